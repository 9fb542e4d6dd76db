/**
 * The state of the "This notebook" section: the open notebook's inline dependencies, read
 * from the server, and the edits and conversions on them, each an operation followed by
 * the panel's operations model (so they show in the Operations section and as
 * notifications like every other uv run).
 *
 * No React and no JupyterLab UI: the plugin tells it which notebook is current and which
 * kernel runs it, and hooks in what must happen to the open document around an edit.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage } from '../api';
import type { IOperationsModel, ITrackedOperation } from '../tokens';
import {
  INotebookDependencies,
  NotebookClient,
  NotebookEditAction,
  SelfContainedSource
} from './api';
import { concernsNotebook, editLabel, fileName } from './format';

/** An edit or conversion that ended, for the plugin (revert the document, offer a restart). */
export interface INotebookEdit {
  /** The notebook's path relative to the server root, as JupyterLab names it. */
  path: string;
  /** add, remove, upgrade, lock, self-contained or project. */
  action: NotebookEditAction | 'self-contained' | 'project';
  tracked: ITrackedOperation;
}

export namespace NotebookDepsModel {
  export interface IOptions {
    client: NotebookClient;
    operations: IOperationsModel;
    /** Before an edit: e.g. save the open notebook, since the server edits the file. */
    beforeEdit?: (path: string) => Promise<void>;
    /**
     * After an edit ended and before the section shows its result: e.g. read the open
     * notebook back from disk, so a save made once the new dependencies show keeps them.
     * A failure here is the hook's to report; the section is refreshed anyway.
     */
    afterEdit?: (edit: INotebookEdit) => Promise<void>;
  }
}

export class NotebookDepsModel {
  constructor(options: NotebookDepsModel.IOptions) {
    this.client = options.client;
    this._operations = options.operations;
    this._beforeEdit = options.beforeEdit ?? (() => Promise.resolve());
    this._afterEdit = options.afterEdit ?? (() => Promise.resolve());
    this._operations.changed.connect(this._emit, this);
  }

  readonly client: NotebookClient;

  /** The current notebook (relative to the server root), or null when none is open. */
  get path(): string | null {
    return this._path;
  }
  set path(value: string | null) {
    if (value === this._path) {
      return;
    }
    this._path = value;
    this._deps = null;
    this._error = null;
    this._emit();
    void this.refresh();
  }

  /** The name of the kernel the current notebook runs on (or will start), or null. */
  get kernelName(): string | null {
    return this._kernelName;
  }
  set kernelName(value: string | null) {
    if (value !== this._kernelName) {
      this._kernelName = value;
      this._emit();
    }
  }

  get dependencies(): INotebookDependencies | null {
    return this._deps;
  }
  get error(): string | null {
    return this._error;
  }
  get loading(): boolean {
    return this._loading > 0;
  }
  /** Bumped when an edit of the current notebook ended: views re-read their trees. */
  get version(): number {
    return this._version;
  }
  /** An edit of the current notebook is queued or running. */
  get busy(): boolean {
    const path = this._path;
    if (path === null) {
      return false;
    }
    return this._operations.operations.some(
      t =>
        !t.finished &&
        (t.operation.action as string).startsWith('notebook-') &&
        concernsNotebook(t.operation, path, this._deps?.path ?? null)
    );
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  /** Emitted when an edit or conversion this model started has ended (in any state). */
  get edited(): ISignal<this, INotebookEdit> {
    return this._edited;
  }

  /** Read the current notebook's dependencies again. */
  async refresh(): Promise<void> {
    const path = this._path;
    if (path === null) {
      return;
    }
    this._loading++;
    this._emit();
    try {
      const deps = await this.client.dependencies(path);
      if (path === this._path) {
        this._deps = deps;
        this._error = null;
      }
    } catch (error) {
      if (path === this._path) {
        this._deps = null;
        this._error = errorMessage(error);
      }
    } finally {
      this._loading--;
      this._emit();
    }
  }

  add(packages: string[], requiresPython?: string | null): Promise<ITrackedOperation> {
    return this._edit('add', packages, requiresPython);
  }
  remove(name: string): Promise<ITrackedOperation> {
    return this._edit('remove', [name]);
  }
  /** Upgrade these packages; none named: all of them. */
  upgrade(packages: string[] = []): Promise<ITrackedOperation> {
    return this._edit('upgrade', packages);
  }
  /** Lock (or relock) the block into the notebook's metadata. */
  lock(): Promise<ITrackedOperation> {
    return this._edit('lock', []);
  }

  makeSelfContained(
    from: SelfContainedSource,
    environment?: string | null
  ): Promise<ITrackedOperation> {
    const path = this._requirePath();
    const label = `Make ${fileName(path)} self-contained (from the ${from})`;
    return this._run(path, 'self-contained', label, () =>
      this.client.selfContained(path, from, environment)
    );
  }

  toProject(): Promise<ITrackedOperation> {
    const path = this._requirePath();
    return this._run(path, 'project', `Turn ${fileName(path)} into a project`, () =>
      this.client.toProject(path)
    );
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private _edit(
    action: NotebookEditAction,
    packages: string[],
    requiresPython?: string | null
  ): Promise<ITrackedOperation> {
    const path = this._requirePath();
    const label = editLabel(action, path, packages, this._deps?.locked ?? false);
    return this._run(path, action, label, () =>
      this.client.edit({
        path,
        action,
        ...(action === 'lock' ? {} : { packages }),
        ...(requiresPython ? { requires_python: requiresPython } : {})
      })
    );
  }

  /** Start one operation (a refusal throws), follow it, and re-read when it ends. */
  private async _run(
    path: string,
    action: INotebookEdit['action'],
    label: string,
    start: () => ReturnType<NotebookClient['edit']>
  ): Promise<ITrackedOperation> {
    await this._beforeEdit(path);
    const operation = await start();
    const tracked = this._operations.track(operation, label);
    const finish = async (t: ITrackedOperation): Promise<void> => {
      const edit = { path, action, tracked: t };
      await this._afterEdit(edit).catch(() => undefined);
      if (path === this._path) {
        this._version++;
        await this.refresh();
      }
      this._edited.emit(edit);
    };
    const onFinished = (_: unknown, t: ITrackedOperation): void => {
      if (t.operation.id !== operation.id) {
        return;
      }
      this._operations.operationFinished.disconnect(onFinished);
      void finish(t);
    };
    if (tracked.finished) {
      onFinished(null, tracked);
    } else {
      this._operations.operationFinished.connect(onFinished);
    }
    return tracked;
  }

  private _requirePath(): string {
    if (this._path === null) {
      throw new Error('Open a notebook first.');
    }
    return this._path;
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _operations: IOperationsModel;
  private _beforeEdit: (path: string) => Promise<void>;
  private _path: string | null = null;
  private _kernelName: string | null = null;
  private _deps: INotebookDependencies | null = null;
  private _error: string | null = null;
  private _loading = 0;
  private _version = 0;
  private _changed = new Signal<this, void>(this);
  private _edited = new Signal<this, INotebookEdit>(this);
  private _afterEdit: (edit: INotebookEdit) => Promise<void>;
}
