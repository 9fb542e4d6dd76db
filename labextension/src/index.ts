import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { errorMessage, requestAPI } from './api';
import { IPanelHost } from './components/common';
import { uvEnvironmentsIcon } from './icons';
import { UvKernelsModel } from './model';
import { connectNotifications } from './notifications';
import { ProvenanceRecorder } from './provenance';
import {
  DEFAULT_SETTINGS,
  IEnvironment,
  IUvKernels,
  IUvKernelsModel,
  IUvKernelsSettings
} from './tokens';
import { setupJobs } from './jobs/plugin';
import { setupNotebookDeps } from './notebook/plugin';
import { relativeToServerRoot } from './validate';
import { setupEnvironmentViews, ViewCommandIDs } from './view/plugin';
import { UvKernelsPanel } from './widget';

export * from './tokens';
export { UvKernelsModel } from './model';
export { EnvironmentsModel } from './environments';
export { OperationsModel } from './operations';
export { EnvironmentActions } from './actions';
export { requestAPI, UvKernelsClient, UvKernelsError } from './api';

const PLUGIN_ID = 'jupyter-uv-kernels:plugin';

/** The kernelspec that runs the uv project a notebook is in (written by the server). */
const PROJECT_KERNEL = 'uv-project';

namespace CommandIDs {
  export const open = 'uv-kernels:open';
  export const newEnvironment = 'uv-kernels:new-environment';
  export const refresh = 'uv-kernels:refresh';
}

function readSettings(settings: ISettingRegistry.ISettings): IUvKernelsSettings {
  const get = <K extends keyof IUvKernelsSettings>(key: K): IUvKernelsSettings[K] => {
    const value = settings.get(key).composite;
    return (value ?? DEFAULT_SETTINGS[key]) as IUvKernelsSettings[K];
  };
  return {
    refreshInterval: get('refreshInterval'),
    showPlainVenvs: get('showPlainVenvs'),
    confirmDestructiveActions: get('confirmDestructiveActions'),
    operationPollInterval: get('operationPollInterval'),
    keepFinishedOperations: get('keepFinishedOperations'),
    recordProvenance: get('recordProvenance')
  };
}

const plugin: JupyterFrontEndPlugin<IUvKernelsModel> = {
  id: PLUGIN_ID,
  description: 'A sidebar listing every uv environment under your roots, with its kernel.',
  autoStart: true,
  provides: IUvKernels,
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ICommandPalette,
    INotebookTracker,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null
  ): IUvKernelsModel => {
    const model = new UvKernelsModel({ request: requestAPI });
    const { commands, serviceManager } = app;

    const refreshKernelspecs = (): void => {
      serviceManager.kernelspecs.refreshSpecs().catch(error => {
        console.warn('jupyter-uv-kernels: could not refresh kernelspecs', error);
      });
    };
    model.kernelsChanged.connect(refreshKernelspecs);
    // Opening a launcher is a look: the server checks for environments made or deleted in
    // a terminal, and the launcher shows them once the check is over (kernelsChanged).
    app.shell.currentChanged?.connect((_, change) => {
      const widget = change.newValue;
      if (
        widget &&
        (widget.id.startsWith('launcher') || widget.node.querySelector('.jp-Launcher'))
      ) {
        void model.look();
      }
    });
    // A finished scan may have written kernelspecs (uv-project among them) the page has not seen.
    let lastScan: string | null = null;
    model.changed.connect(() => {
      if (model.scannedAt !== null && model.scannedAt !== lastScan) {
        if (lastScan !== null) {
          refreshKernelspecs();
        }
        lastScan = model.scannedAt;
      }
    });

    const fileBrowserPath = (env: IEnvironment): string | null =>
      relativeToServerRoot(env.path, PageConfig.getOption('serverRoot'));

    const canOpenInProject = (env: IEnvironment): boolean =>
      env.kind === 'project' &&
      env.kernel !== null &&
      fileBrowserPath(env) !== null &&
      !!serviceManager.kernelspecs.specs?.kernelspecs[PROJECT_KERNEL];

    // Settings arrive asynchronously: record nothing until they are known.
    const provenance = notebooks
      ? new ProvenanceRecorder({
          tracker: notebooks,
          kernelspecs: serviceManager.kernelspecs,
          request: requestAPI,
          enabled: settingRegistry === null && DEFAULT_SETTINGS.recordProvenance
        })
      : null;
    const applySettings = (settings: IUvKernelsSettings): void => {
      model.settings = settings;
      if (provenance) {
        provenance.enabled = settings.recordProvenance;
      }
    };

    const host: IPanelHost = {
      confirm: async (title, body, acceptLabel) => {
        if (!model.settings.confirmDestructiveActions) {
          return true;
        }
        const result = await showDialog({
          title,
          body,
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: acceptLabel })]
        });
        return result.button.accept;
      },
      openNotebook: async (env, options = {}) => {
        if (!env.kernel) {
          return;
        }
        try {
          // The kernelspec may be seconds old; make sure the frontend knows it.
          await serviceManager.kernelspecs.refreshSpecs();
          const cwd = env.kind === 'project' ? fileBrowserPath(env) : null;
          const inProject = !!options.inProject && canOpenInProject(env);
          await commands.execute('notebook:create-new', {
            kernelName: inProject ? PROJECT_KERNEL : env.kernel,
            ...(cwd !== null ? { cwd } : {})
          });
        } catch (error) {
          Notification.error(errorMessage(error), { autoClose: false });
        }
      },
      canOpenInProject,
      kernelspecsChanged: serviceManager.kernelspecs.specsChanged,
      fileBrowserPath,
      showInFileBrowser: async env => {
        const path = fileBrowserPath(env);
        if (path === null) {
          return;
        }
        try {
          await commands.execute('filebrowser:go-to-path', { path });
        } catch (error) {
          Notification.error(errorMessage(error), { autoClose: false });
        }
      },
      notifyError: message => {
        Notification.error(message, { autoClose: false });
      },
      notifySuccess: message => {
        Notification.success(message, { autoClose: 5000 });
      },
      openEnvironment: env => {
        commands.execute(ViewCommandIDs.open, { id: env.id }).catch(error => {
          Notification.error(errorMessage(error), { autoClose: false });
        });
      }
    };

    const panel = new UvKernelsPanel(model, host);
    app.shell.add(panel, 'left', { rank: 450 });
    if (restorer) {
      restorer.add(panel, 'jupyter-uv-kernels');
    }

    setupEnvironmentViews(app, model, model.client, host, restorer);
    setupJobs({ app, model, panel, host, fileBrowser, notebooks });
    if (notebooks) {
      setupNotebookDeps({ app, model, panel, host, notebooks });
    }

    connectNotifications(model.operationsModel, () => app.shell.activateById(panel.id));

    commands.addCommand(CommandIDs.open, {
      label: 'Show uv Environments',
      caption: 'Open the uv environments sidebar',
      icon: uvEnvironmentsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    commands.addCommand(CommandIDs.newEnvironment, {
      label: 'New uv Environment…',
      caption: 'Create a uv project or venv with a kernel',
      execute: () => {
        app.shell.activateById(panel.id);
        panel.showCreateForm();
      }
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Rescan uv Environments',
      caption: 'Search the roots for uv projects and venvs again',
      execute: () => model.refresh().catch(error => host.notifyError(errorMessage(error)))
    });
    if (palette) {
      const category = 'uv Environments';
      for (const command of [CommandIDs.open, CommandIDs.newEnvironment, CommandIDs.refresh]) {
        palette.addItem({ command, category });
      }
    }

    const start = (): void => {
      model.start().catch(error => console.error('jupyter-uv-kernels:', error));
    };
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          applySettings(readSettings(settings));
          settings.changed.connect(() => applySettings(readSettings(settings)));
        })
        .catch(error => {
          console.warn('jupyter-uv-kernels: settings not loaded, using defaults', error);
          applySettings({ ...DEFAULT_SETTINGS });
        })
        .finally(start);
    } else {
      start();
    }
    return model;
  }
};

export default plugin;
