/**
 * JupyterLab glue of "Run as batch job" (issue 13): the command (file browser context menu,
 * notebook toolbar through schema/plugin.json's jupyter.lab.toolbars), the form's tab, the
 * Jobs section of the sidebar and the notification after a submit.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { errorMessage, requestAPI } from '../api';
import { IPanelHost } from '../components/common';
import { IUvKernelsModel } from '../tokens';
import { IJob, IJobRequest, JobsClient } from './api';
import { jobKind } from './format';
import { IJobActions } from './JobList';
import { JobsModel } from './model';
import {
  batchJobIcon,
  createFormWidget,
  JobFormWidget,
  JobsSection,
  loadRemembered,
  saveRemembered,
  showLogTail
} from './widgets';

export namespace JobCommandIDs {
  export const runAsJob = 'uv-kernels:run-as-job';
  export const showJobs = 'uv-kernels:show-jobs';
}

/** What the jobs UI needs of the sidebar panel. */
export interface IJobsPanel {
  readonly id: string;
  addSection(widget: Widget, options?: { collapsed?: boolean }): void;
  expandSection(widget: Widget): void;
}

export interface IJobsOptions {
  app: JupyterFrontEnd;
  model: IUvKernelsModel;
  panel: IJobsPanel;
  host: IPanelHost;
  fileBrowser: IDefaultFileBrowser | null;
  notebooks: INotebookTracker | null;
}

/** Add the command, the Jobs section and the form; returns the jobs model. */
export function setupJobs(options: IJobsOptions): JobsModel {
  const { app, model, panel, host, fileBrowser, notebooks } = options;
  const { commands, serviceManager, shell } = app;
  const jobs = new JobsModel(new JobsClient(requestAPI));
  const forms = new Map<string, JobFormWidget>();

  const actions: IJobActions = {
    cancel: async job => {
      const ok = await host.confirm(
        `Cancel ${job.name}?`,
        `Job ${job.id} is ${job.state}; cancelling stops it (${job.scheduler === 'pbs' ? 'qdel' : 'scancel'}).`,
        'Cancel job'
      );
      if (ok) {
        await jobs.cancel(job.id);
      }
    },
    openResult: async job => {
      if (job.open_output) {
        await commands.execute('docmanager:open', { path: job.open_output });
      }
    },
    showLog: async job => {
      const detail = await jobs.client.detail(job.id);
      if (detail.open_log && detail.log_tail !== '') {
        await commands.execute('docmanager:open', { path: detail.open_log });
      } else {
        await showLogTail(job, detail);
      }
    }
  };

  const section = new JobsSection(jobs, actions);
  panel.addSection(section, { collapsed: true });
  // Folded until there is something to show.
  let unfolded = false;
  jobs.changed.connect(() => {
    if (!unfolded && jobs.jobs.length > 0) {
      unfolded = true;
      panel.expandSection(section);
    }
  });
  void jobs.refresh();

  const showJobs = (): void => {
    shell.activateById(panel.id);
    panel.expandSection(section);
    void jobs.refresh();
  };

  /** The file the command acts on: its args, the file browser's selection, the notebook. */
  const targetPath = (args: any): string | null => {
    if (typeof args?.path === 'string' && args.path) {
      return args.path;
    }
    if (args?.source === 'filebrowser') {
      const selected = fileBrowser ? Array.from(fileBrowser.selectedItems()) : [];
      return selected.length === 1 && selected[0].type !== 'directory' ? selected[0].path : null;
    }
    return notebooks?.currentWidget?.context.path ?? null;
  };

  const openNotebook = (path: string): NotebookPanel | undefined =>
    notebooks?.find(panel => panel.context.path === path);

  /** The notebook's kernel: its running session's, else the one its file names. */
  const kernelOf = async (path: string): Promise<string | null> => {
    const open = openNotebook(path);
    if (open) {
      const ctx = open.sessionContext;
      const name =
        ctx.session?.kernel?.name ??
        ctx.kernelPreference.name ??
        (open.context.model.getMetadata('kernelspec') as any)?.name;
      return typeof name === 'string' ? name : null;
    }
    try {
      const file = await serviceManager.contents.get(path, { content: true, type: 'notebook' });
      const name = file.content?.metadata?.kernelspec?.name;
      return typeof name === 'string' ? name : null;
    } catch {
      return null;
    }
  };

  const submitted = (job: IJob, request: IJobRequest, widget: JobFormWidget): void => {
    saveRemembered(request);
    widget.dispose();
    panel.expandSection(section);
    void jobs.refresh();
    Notification.success(`Job ${job.id} submitted`, {
      autoClose: 8000,
      actions: [{ label: 'Show jobs', caption: 'Show the Jobs section', callback: showJobs }]
    });
  };

  const openForm = async (path: string): Promise<JobFormWidget | undefined> => {
    const kind = jobKind(path);
    if (!kind) {
      return;
    }
    const existing = forms.get(path);
    if (existing && !existing.isDisposed) {
      shell.activateById(existing.id);
      return existing;
    }
    // The job runs the file as saved.
    const open = openNotebook(path);
    if (open?.context.model.dirty) {
      await open.context.save();
    }
    const kernel = kind === 'notebook' ? await kernelOf(path) : null;
    const widget: JobFormWidget = createFormWidget({
      path,
      kind,
      kernel,
      environments: model.environmentsModel,
      client: jobs.client,
      remembered: loadRemembered(),
      onSubmitted: (job, request) => submitted(job, request, widget),
      onClose: () => widget.dispose()
    });
    widget.id = `uv-kernels-job-form-${forms.size}-${Date.now()}`;
    forms.set(path, widget);
    widget.disposed.connect(() => forms.delete(path));
    shell.add(widget, 'main');
    shell.activateById(widget.id);
    return widget;
  };

  commands.addCommand(JobCommandIDs.runAsJob, {
    label: args => (args.toolbar ? '' : 'Run as batch job…'),
    caption: 'Run this notebook or script as a PBS or Slurm batch job in its uv environment',
    icon: batchJobIcon,
    isVisible: args => {
      if (args.toolbar) {
        return true; // only notebooks have the button
      }
      const path = targetPath(args);
      return path !== null && jobKind(path) !== null;
    },
    execute: async args => {
      const path = targetPath(args);
      if (!path) {
        return;
      }
      try {
        return await openForm(path);
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    }
  });

  commands.addCommand(JobCommandIDs.showJobs, {
    label: 'Show Batch Jobs',
    caption: 'The batch jobs submitted from here, in the uv environments sidebar',
    execute: showJobs
  });

  for (const fileType of ['notebook', 'python']) {
    app.contextMenu.addItem({
      command: JobCommandIDs.runAsJob,
      selector: `.jp-DirListing-item[data-file-type="${fileType}"]`,
      args: { source: 'filebrowser' },
      rank: 3
    });
  }
  return jobs;
}
