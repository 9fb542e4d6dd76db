/**
 * JupyterLab glue of "This notebook" (issue 15): the sidebar section that follows the
 * current notebook, the one-click switch to the uv-script kernel, the first build's
 * progress as a notification, the dialogs of the conversions, and the restart offer after
 * an edit.
 */
import * as React from 'react';
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { errorMessage, requestAPI } from '../api';
import { IPanelHost } from '../components/common';
import { IOperation, IUvKernelsModel } from '../tokens';
import { NotebookClient, NotebookViewClient } from './api';
import { BuildWatcher, STARTING } from './builds';
import { projectText, SourceChoice } from './dialogs';
import { applyToModel, sameCellsBesideBlock } from './document';
import { fileName, offersRestart, resultText, SCRIPT_KERNEL } from './format';
import { INotebookEdit, NotebookDepsModel } from './model';
import { INotebookSectionActions, NotebookSection } from './NotebookSection';

/** What the notebook UI needs of the sidebar panel (as the jobs UI). */
export interface INotebookPanelHost {
  readonly id: string;
  addSection(widget: Widget, options?: { collapsed?: boolean }): void;
  expandSection(widget: Widget): void;
}

export interface INotebookDepsOptions {
  app: JupyterFrontEnd;
  model: IUvKernelsModel;
  panel: INotebookPanelHost;
  host: IPanelHost;
  notebooks: INotebookTracker;
}

class NotebookDepsSection extends ReactWidget {
  constructor(private readonly _props: React.ComponentProps<typeof NotebookSection>) {
    super();
    this.addClass('jp-UvKernels-section');
    this.addClass('jp-UvKernels-notebook-section');
    this.title.label = 'This notebook';
    this.title.caption = "The open notebook's own dependencies (PEP 723, juv's format)";
  }

  render(): JSX.Element {
    return <NotebookSection {...this._props} />;
  }
}

/** Add the section, the one-click switch and the build notifications. */
export function setupNotebookDeps(options: INotebookDepsOptions): NotebookDepsModel {
  const { app, model, panel, host, notebooks } = options;
  const request = requestAPI;
  const client = new NotebookClient(request);

  const openPanels = (path: string): NotebookPanel[] => {
    const found: NotebookPanel[] = [];
    notebooks.forEach(p => {
      if (p.context.path === path) {
        found.push(p);
      }
    });
    return found;
  };

  const deps = new NotebookDepsModel({
    client,
    operations: model.operationsModel,
    // The server edits the file: what the user typed must be in it first.
    beforeEdit: async path => {
      for (const p of openPanels(path)) {
        if (p.context.model.dirty) {
          await p.context.save();
        }
      }
    },
    // ... and once it is done, the open document has the new file before the section shows
    // the new dependencies: a save made then (by the user or autosave) keeps them.
    afterEdit: async edit => {
      if (edit.tracked.operation.state === 'succeeded') {
        for (const p of openPanels(edit.path)) {
          await readBack(p);
        }
      }
    }
  });

  const kernelOf = (p: NotebookPanel): string | null => {
    const ctx = p.sessionContext;
    const name =
      ctx.session?.kernel?.name ??
      ctx.kernelPreference.name ??
      (p.context.model.getMetadata('kernelspec') as any)?.name;
    return typeof name === 'string' ? name : null;
  };

  // -- the first build's progress -----------------------------------------------------

  const builds = new BuildWatcher({
    request,
    pollInterval: model.settings.operationPollInterval,
    realPath: path => (deps.path === path ? (deps.dependencies?.path ?? null) : null)
  });
  const watchBuild = (p: NotebookPanel): Promise<void> => builds.watch(p);

  const follow = (p: NotebookPanel): void => {
    const ctx = p.sessionContext;
    const starting = (): void => {
      if (kernelOf(p) === SCRIPT_KERNEL && STARTING.has(ctx.kernelDisplayStatus)) {
        void watchBuild(p);
      }
    };
    ctx.statusChanged.connect(starting);
    ctx.kernelChanged.connect(() => {
      if (notebooks.currentWidget === p) {
        deps.kernelName = kernelOf(p);
      }
      starting();
    });
    // A notebook opened on uv-script starts its kernel (and may build) at once.
    void p.context.ready.then(() => {
      if (notebooks.currentWidget === p) {
        deps.kernelName = kernelOf(p);
      }
      if (kernelOf(p) === SCRIPT_KERNEL) {
        void watchBuild(p);
      }
    });
    // Saved (a block edited by hand) or read back from disk: the section reads it again.
    p.context.fileChanged.connect(() => {
      if (notebooks.currentWidget === p && !deps.busy) {
        void deps.refresh();
      }
    });
  };
  notebooks.widgetAdded.connect((_, p) => follow(p));
  notebooks.forEach(follow);

  // -- the section --------------------------------------------------------------------

  const current = (): NotebookPanel | null => notebooks.currentWidget;

  const actions: INotebookSectionActions = {
    confirm: (title, body, label) => host.confirm(title, body, label),

    useOwnDependencies: async () => {
      const p = current();
      if (!p) {
        return;
      }
      try {
        await app.serviceManager.kernelspecs.refreshSpecs();
        if (!app.serviceManager.kernelspecs.specs?.kernelspecs[SCRIPT_KERNEL]) {
          host.notifyError(
            `The ${SCRIPT_KERNEL} kernel is not installed on this server ` +
              '(UvKernels.script_kernel is off?); ask your administrator, or run ' +
              '`jupyter uvkernel refresh`.'
          );
          return;
        }
        // The kernel reads the notebook from disk.
        if (p.context.model.dirty) {
          await p.context.save();
        }
        void watchBuild(p);
        await p.sessionContext.changeKernel({ name: SCRIPT_KERNEL });
        deps.kernelName = kernelOf(p);
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    },

    makeSelfContained: async () => {
      const p = current();
      if (!p) {
        return;
      }
      const kernel = kernelOf(p);
      const env = model.environments.find(e => e.kernel !== null && e.kernel === kernel);
      const result = await showDialog({
        title: `Make ${fileName(p.context.path)} self-contained`,
        body: new SourceChoice(env?.name ?? null),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Make self-contained' })]
      });
      if (!result.button.accept || !result.value) {
        return;
      }
      try {
        await deps.makeSelfContained(result.value, env?.id ?? null);
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    },

    toProject: async () => {
      const p = current();
      if (!p) {
        return;
      }
      const result = await showDialog({
        title: `Turn ${fileName(p.context.path)} into a project?`,
        body: projectText(p.context.path),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Turn into a project' })]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        await deps.toProject();
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    }
  };

  const section = new NotebookDepsSection({
    model: deps,
    operations: model.operationsModel,
    viewClient: new NotebookViewClient(request),
    actions
  });
  panel.addSection(section, { collapsed: true });
  deps.changed.connect(() => section.update());

  // Unfold once, the first time a notebook with its own dependencies is current.
  let unfolded = false;
  deps.changed.connect(() => {
    if (!unfolded && deps.dependencies?.self_contained) {
      unfolded = true;
      panel.expandSection(section);
    }
  });

  const onCurrent = (): void => {
    const p = current();
    deps.path = p ? p.context.path : null;
    deps.kernelName = p ? kernelOf(p) : null;
  };
  notebooks.currentChanged.connect(onCurrent);
  notebooks.widgetAdded.connect((_, p) => {
    p.context.pathChanged.connect(() => {
      if (current() === p) {
        onCurrent();
      }
    });
  });
  onCurrent();

  // -- after an edit: the document from disk (afterEdit), the result, a restart --------

  deps.edited.connect((_, edit) => void afterEdit(edit));

  /**
   * The file on disk is newer than the document: read it back when that loses nothing
   * (see document.ts); else put the new dependencies into the document, and say so.
   */
  const readBack = async (p: NotebookPanel): Promise<void> => {
    try {
      if (!p.context.model.dirty) {
        await p.context.revert();
        return;
      }
      const file = await app.serviceManager.contents.get(p.context.path, {
        type: 'notebook',
        content: true
      });
      if (sameCellsBesideBlock(p.context.model.toJSON() as any, file.content)) {
        await p.context.revert();
        return;
      }
      applyToModel(p.context.model, file.content);
      Notification.warning(
        `${fileName(p.context.path)} had unsaved changes: the new dependencies were put into ` +
          'the open notebook as well. When you save, JupyterLab says the file changed on ' +
          'disk: choose Overwrite to keep both.',
        { autoClose: false }
      );
    } catch (error) {
      host.notifyError(errorMessage(error));
    }
  };

  const afterEdit = async (edit: INotebookEdit): Promise<void> => {
    const op = edit.tracked.operation;
    if (op.state !== 'succeeded') {
      return;
    }
    const open = openPanels(edit.path); // already read back (afterEdit)
    if (edit.action === 'self-contained' || edit.action === 'project') {
      const text = resultText(op as IOperation & { result?: unknown });
      if (text) {
        Notification.info(`${edit.tracked.label}: ${text}`, { autoClose: 15000 });
      }
    }
    const p = open[0];
    if (!p || !offersRestart(edit.action, op.state, kernelOf(p))) {
      return;
    }
    const answer = await showDialog({
      title: 'Restart the kernel to use the new dependencies?',
      body:
        `${edit.tracked.label}: done. The running kernel still has the old ones; a restart ` +
        'starts it on the new dependencies (built once, then cached). Variables are lost.',
      buttons: [Dialog.cancelButton({ label: 'Not now' }), Dialog.warnButton({ label: 'Restart' })]
    });
    if (answer.button.accept) {
      void watchBuild(p);
      await p.sessionContext.restartKernel().catch(error => host.notifyError(errorMessage(error)));
    }
  };

  return deps;
}
