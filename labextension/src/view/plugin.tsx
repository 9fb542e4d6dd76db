/**
 * JupyterLab glue of the environment view: one MainAreaWidget per environment (kept in a
 * WidgetTracker and restored on reload, keyed by the environment id), its toolbar, and
 * the commands behind it (open, sync, upgrade all, export, copy, delete).
 */
import * as React from 'react';
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, MainAreaWidget, showDialog, WidgetTracker } from '@jupyterlab/apputils';
import {
  CommandToolbarButton,
  copyIcon,
  deleteIcon,
  downloadIcon,
  ReactWidget,
  refreshIcon
} from '@jupyterlab/ui-components';
import { Menu } from '@lumino/widgets';

import { errorMessage, UvKernelsClient, UvKernelsError } from '../api';
import { IPanelHost, IPanelModels, whenFinished } from '../components/common';
import { uvEnvironmentsIcon } from '../icons';
import { failureSummary } from '../operations';
import { ExportFormat, IEnvironment, IUvKernelsModel } from '../tokens';
import { EnvironmentView } from './EnvironmentView';
import { deletionText, download, panelWording, PathField } from './dialogs';
import { copyTarget } from './format';

export namespace ViewCommandIDs {
  export const open = 'uv-kernels:open-environment';
  export const sync = 'uv-kernels:sync-environment';
  export const upgradeAll = 'uv-kernels:upgrade-environment';
  export const exportMenu = 'uv-kernels:export-environment-menu';
  export const exportEnv = 'uv-kernels:export-environment';
  export const copy = 'uv-kernels:copy-environment';
  export const remove = 'uv-kernels:delete-environment';
}

/** The React content of one environment's tab. */
export class EnvironmentViewContent extends ReactWidget {
  constructor(
    readonly envId: string,
    private _models: IPanelModels,
    private _client: UvKernelsClient,
    private _host: IPanelHost
  ) {
    super();
    this.addClass('jp-UvKernels-view-content');
  }

  render(): JSX.Element {
    return (
      <EnvironmentView
        envId={this.envId}
        models={this._models}
        client={this._client}
        host={this._host}
      />
    );
  }
}

export type EnvironmentViewWidget = MainAreaWidget<EnvironmentViewContent>;

export function setupEnvironmentViews(
  app: JupyterFrontEnd,
  model: IUvKernelsModel,
  client: UvKernelsClient,
  host: IPanelHost,
  restorer: ILayoutRestorer | null
): WidgetTracker<EnvironmentViewWidget> {
  const { commands, shell } = app;
  const models: IPanelModels = {
    environments: model.environmentsModel,
    operations: model.operationsModel,
    actions: model.actions
  };
  const tracker = new WidgetTracker<EnvironmentViewWidget>({ namespace: 'uv-kernels-environment' });

  const envOf = (args: any): IEnvironment | undefined =>
    model.environmentsModel.environment(String(args?.id ?? ''));
  const canChange = (args: any): boolean => {
    const env = envOf(args);
    return !!env && !env.read_only && !model.operationsModel.isBusy(env);
  };
  const writable = (args: any): boolean => !envOf(args)?.read_only;
  const refreshCommands = (): void => commands.notifyCommandChanged();
  model.environmentsModel.changed.connect(refreshCommands);
  model.operationsModel.changed.connect(refreshCommands);
  model.operationsModel.operationStarted.connect(refreshCommands);
  model.operationsModel.operationFinished.connect(refreshCommands);

  const find = (id: string): EnvironmentViewWidget | undefined =>
    tracker.find(w => w.content.envId === id);

  const retitle = (widget: EnvironmentViewWidget): void => {
    const env = model.environmentsModel.environment(widget.content.envId);
    widget.title.label = env ? env.name : 'uv environment';
    widget.title.caption = env ? `uv ${env.kind}: ${env.path}` : widget.content.envId;
  };

  /** Start an operation from a toolbar command; report a refusal or a failure. */
  const run = async (start: () => Promise<any>): Promise<void> => {
    try {
      const tracked = await start();
      const done = await whenFinished(model.operationsModel, tracked);
      if (done.operation.state === 'failed') {
        host.notifyError(`${done.label} failed: ${failureSummary(done)}`);
      }
    } catch (error) {
      host.notifyError(errorMessage(error));
    }
  };

  const toolbarButton = (id: string, widget: EnvironmentViewWidget): CommandToolbarButton =>
    new CommandToolbarButton({ commands, id, args: { id: widget.content.envId } });

  commands.addCommand(ViewCommandIDs.open, {
    label: args => (args.id ? `Open ${envOf(args)?.name ?? 'environment'}` : 'Open uv Environment'),
    caption: 'Open an environment in the main area: overview, dependencies, tree, updates',
    icon: uvEnvironmentsIcon,
    execute: args => {
      const id = String(args.id ?? '');
      if (!id) {
        return;
      }
      let widget = find(id);
      if (!widget) {
        const content = new EnvironmentViewContent(id, models, client, host);
        widget = new MainAreaWidget({ content });
        widget.id = `uv-kernels-environment-${id}`;
        widget.addClass('jp-UvKernels-view-widget');
        widget.title.icon = uvEnvironmentsIcon;
        widget.title.closable = true;
        const toolbar = widget.toolbar;
        toolbar.addItem('sync', toolbarButton(ViewCommandIDs.sync, widget));
        toolbar.addItem('upgrade', toolbarButton(ViewCommandIDs.upgradeAll, widget));
        toolbar.addItem('export', toolbarButton(ViewCommandIDs.exportMenu, widget));
        toolbar.addItem('copy', toolbarButton(ViewCommandIDs.copy, widget));
        toolbar.addItem('delete', toolbarButton(ViewCommandIDs.remove, widget));
        const w = widget;
        retitle(w);
        const onChanged = (): void => retitle(w);
        model.environmentsModel.changed.connect(onChanged);
        // An open environment tab keeps the list's periodic re-read going while shown.
        const watching = model.environmentsModel.watch(() => w.isVisible);
        w.disposed.connect(() => {
          model.environmentsModel.changed.disconnect(onChanged);
          watching.dispose();
        });
        void tracker.add(widget);
        shell.add(widget, 'main');
      }
      shell.activateById(widget.id);
      return widget;
    }
  });

  commands.addCommand(ViewCommandIDs.sync, {
    label: 'Sync',
    caption: 'uv sync --frozen: make the environment match uv.lock exactly',
    icon: refreshIcon,
    isVisible: args => writable(args) && envOf(args)?.kind === 'project',
    isEnabled: canChange,
    execute: args => {
      const env = envOf(args);
      return env ? run(() => model.actions.sync(env)) : undefined;
    }
  });

  commands.addCommand(ViewCommandIDs.upgradeAll, {
    label: 'Upgrade all',
    caption: 'Upgrade every package (projects: within pyproject.toml\u2019s constraints)',
    isVisible: writable,
    isEnabled: args => canChange(args) && !!envOf(args)?.venv,
    execute: args => {
      const env = envOf(args);
      return env ? run(() => model.actions.upgrade(env, [])) : undefined;
    }
  });

  commands.addCommand(ViewCommandIDs.exportEnv, {
    label: args => {
      const format = String(args.format);
      return args.target === 'project' ? `Save ${format} into the folder` : `Download ${format}`;
    },
    caption: 'uv export (projects) or uv pip freeze (venvs)',
    isEnabled: args => !!envOf(args) && (args.target !== 'project' || writable(args)),
    execute: async args => {
      const env = envOf(args);
      if (!env) {
        return;
      }
      const format = String(args.format) as ExportFormat;
      try {
        if (args.target === 'project') {
          let saved;
          try {
            saved = await client.saveExport(env.id, format);
          } catch (error) {
            if (!(error instanceof UvKernelsError && error.status === 409)) {
              throw error;
            }
            const answer = await showDialog({
              title: `Replace ${format}?`,
              body: error.message,
              buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Replace' })]
            });
            if (!answer.button.accept) {
              return;
            }
            saved = await client.saveExport(env.id, format, true);
          }
          host.notifySuccess(`Saved ${saved.path} (${saved.bytes} bytes).`);
        } else {
          const reply = await client.exportEnvironment(env.id, format);
          download(reply.filename, reply.content);
        }
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    }
  });

  commands.addCommand(ViewCommandIDs.exportMenu, {
    label: 'Export',
    caption: 'Export as requirements.txt or pylock.toml: download it, or save it into the folder',
    icon: downloadIcon,
    isEnabled: args => !!envOf(args)?.venv || envOf(args)?.kind === 'project',
    execute: args => {
      const env = envOf(args);
      if (!env) {
        return;
      }
      const menu = new Menu({ commands });
      menu.addClass('jp-UvKernels-export-menu');
      const formats: ExportFormat[] =
        env.kind === 'project' ? ['requirements.txt', 'pylock.toml'] : ['requirements.txt'];
      for (const target of ['download', 'project']) {
        for (const format of formats) {
          menu.addItem({ command: ViewCommandIDs.exportEnv, args: { id: env.id, format, target } });
        }
      }
      const button = find(env.id)?.toolbar.node.querySelector(
        `[data-command="${ViewCommandIDs.exportMenu}"]`
      );
      const box = button?.getBoundingClientRect();
      menu.aboutToClose.connect(() => setTimeout(() => menu.dispose(), 0));
      menu.open(box ? box.left : 200, box ? box.bottom : 100);
    }
  });

  commands.addCommand(ViewCommandIDs.copy, {
    label: 'Copy…',
    caption:
      'Copy into a new folder of yours (pyproject.toml and uv.lock, or the package list), then sync',
    icon: copyIcon,
    isEnabled: args => !!envOf(args),
    execute: async args => {
      const env = envOf(args);
      if (!env) {
        return;
      }
      const roots = model.environmentsModel.roots;
      const suggested = copyTarget(env.path, env.name, env.read_only ? (roots[0] ?? null) : null);
      const what =
        env.kind === 'project' ? 'its pyproject.toml and uv.lock' : 'its list of packages';
      const answer = await showDialog({
        title: `Copy ${env.name}`,
        body: new PathField(
          `A new folder inside your roots; ${what} go there and it is synced:`,
          suggested
        ),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Copy' })]
      });
      const path = answer.value;
      if (!answer.button.accept || !path) {
        return;
      }
      try {
        const tracked = await model.actions.copyEnvironment(env, path);
        const done = await whenFinished(model.operationsModel, tracked);
        if (done.operation.state === 'failed') {
          host.notifyError(`${done.label} failed: ${failureSummary(done)}`);
        } else if (done.operation.state === 'succeeded' && done.operation.environment) {
          await commands.execute(ViewCommandIDs.open, { id: done.operation.environment.id });
        }
      } catch (error) {
        host.notifyError(errorMessage(error));
      }
    }
  });

  commands.addCommand(ViewCommandIDs.remove, {
    label: 'Delete…',
    caption: 'Delete the venv (a project: only its .venv; pyproject.toml and uv.lock stay)',
    icon: deleteIcon,
    isVisible: writable,
    isEnabled: args => canChange(args) && !!envOf(args)?.venv,
    execute: async args => {
      const env = envOf(args);
      if (!env) {
        return;
      }
      const first = await showDialog({
        title: env.kind === 'project' ? `Delete the .venv of ${env.name}?` : `Delete ${env.name}?`,
        body: deletionText(env),
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
      });
      if (!first.button.accept) {
        return;
      }
      let tracked;
      try {
        tracked = await model.actions.deleteEnvironment(env);
      } catch (error) {
        // The server refuses while a kernel of the env runs, and names its force=true.
        const running =
          error instanceof UvKernelsError &&
          error.status === 409 &&
          /force=true/.test(error.message);
        if (!running) {
          host.notifyError(errorMessage(error));
          return;
        }
        const second = await showDialog({
          title: `A kernel of ${env.name} is running`,
          body: panelWording(errorMessage(error)),
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete anyway' })]
        });
        if (!second.button.accept) {
          return;
        }
        try {
          tracked = await model.actions.deleteEnvironment(env, { force: true });
        } catch (again) {
          host.notifyError(errorMessage(again));
          return;
        }
      }
      const done = await whenFinished(model.operationsModel, tracked);
      if (done.operation.state === 'failed') {
        host.notifyError(`${done.label} failed: ${failureSummary(done)}`);
      } else if (done.operation.state === 'succeeded') {
        host.notifySuccess(
          env.kind === 'project'
            ? `Deleted the .venv of ${env.name}; Sync rebuilds it from uv.lock.`
            : `Deleted ${env.path}.`
        );
        if (env.kind === 'venv') {
          find(env.id)?.dispose();
        }
      }
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: ViewCommandIDs.open,
      args: widget => ({ id: widget.content.envId }),
      name: widget => widget.content.envId
    });
  }
  return tracker;
}
