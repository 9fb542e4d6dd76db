/**
 * Environment provenance in notebooks.
 *
 * When a notebook runs one of our kernels (its kernelspec carries our owner marker), saving
 * it writes `metadata.uv_kernels`: the kernel, the project path relative to its repository
 * root, the SHA-256 of uv.lock and the Python and uv versions. The values come from
 * `GET uv-kernels/provenance`. `saveState` 'started' is emitted synchronously before the
 * model is serialised, so they are fetched ahead of time: when the kernel starts or changes,
 * when the notebook is moved or edited, and again after each save (so a changed lock is
 * picked up). Nothing is written when the value is unchanged, so re-saving does not churn.
 * Failures are logged to the console and never reach the save.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { KernelSpec } from '@jupyterlab/services';
import { JSONExt, PartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { RequestFunction } from './api';

/** The notebook metadata key written on save. */
export const PROVENANCE_KEY = 'uv_kernels';

/** The key of the owner marker in the metadata of the kernelspecs we write. */
export const OWNER_KEY = 'jupyter_uv_kernels';

/** `GET uv-kernels/provenance`: what is recorded for one notebook on one kernel. */
export interface IProvenance extends PartialJSONObject {
  kernel: string;
  project: string | null;
  lock_sha256: string | null;
  python: string | null;
  uv: string | null;
}

/** Whether the kernelspec `name` was written by jupyter_uv_kernels. */
export function isOwnKernel(
  specs: KernelSpec.ISpecModels | null | undefined,
  name: string | null | undefined
): boolean {
  if (!specs || !name) {
    return false;
  }
  const metadata = specs.kernelspecs[name]?.metadata;
  return !!metadata && typeof metadata[OWNER_KEY] === 'object' && metadata[OWNER_KEY] !== null;
}

/** The endpoint (below `uv-kernels/`) that answers the provenance of one notebook. */
export function provenanceEndpoint(path: string, kernel: string): string {
  return 'provenance' + URLExt.objectToQueryString({ path, kernel });
}

export namespace ProvenanceRecorder {
  export interface IOptions {
    tracker: INotebookTracker;
    kernelspecs: KernelSpec.IManager;
    request: RequestFunction;
    /** Whether to record; the setting `recordProvenance`. */
    enabled: boolean;
  }
}

/** Records provenance in every notebook the tracker knows. */
export class ProvenanceRecorder {
  constructor(options: ProvenanceRecorder.IOptions) {
    this.kernelspecs = options.kernelspecs;
    this.request = options.request;
    this._enabled = options.enabled;
    this._tracker = options.tracker;
    this._tracker.forEach(panel => this._track(panel));
    this._tracker.widgetAdded.connect(this._onWidgetAdded, this);
    this.kernelspecs.specsChanged.connect(this._refreshAll, this);
  }

  readonly kernelspecs: KernelSpec.IManager;
  readonly request: RequestFunction;

  get enabled(): boolean {
    return this._enabled;
  }
  set enabled(value: boolean) {
    if (value === this._enabled) {
      return;
    }
    this._enabled = value;
    this._refreshAll();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.disconnectReceiver(this);
    for (const recorder of this._panels) {
      recorder.dispose();
    }
    this._panels.clear();
  }

  private _onWidgetAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this._track(panel);
  }

  private _track(panel: NotebookPanel): void {
    const recorder = new PanelRecorder(panel, this);
    this._panels.add(recorder);
    panel.disposed.connect(() => {
      recorder.dispose();
      this._panels.delete(recorder);
    });
  }

  private _refreshAll(): void {
    for (const recorder of this._panels) {
      void recorder.refresh();
    }
  }

  private _enabled: boolean;
  private _isDisposed = false;
  private _panels = new Set<PanelRecorder>();
  private _tracker: INotebookTracker;
}

/** The provenance of one notebook panel, kept current and written on save. */
class PanelRecorder {
  constructor(
    private _panel: NotebookPanel,
    private _owner: ProvenanceRecorder
  ) {
    const { context, sessionContext } = _panel;
    sessionContext.kernelChanged.connect(this._onChange, this);
    context.pathChanged.connect(this._onChange, this);
    context.saveState.connect(this._onSaveState, this);
    context.model.stateChanged.connect(this._onModelState, this);
    void sessionContext.ready.then(() => this.refresh());
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    this._provenance = null;
    Signal.disconnectReceiver(this);
  }

  /**
   * Fetch the provenance for the notebook's current path and kernel. Answers are applied in
   * the order the requests were made, so a slow older answer never replaces a newer one,
   * and an answer is never dropped because another request started meanwhile.
   */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    if (this._isDisposed || !this._owner.enabled) {
      this._apply(generation, null, '');
      return;
    }
    try {
      const kernelspecs = this._owner.kernelspecs;
      await kernelspecs.ready;
      const kernel = this._kernelName();
      if (!kernel || !isOwnKernel(kernelspecs.specs, kernel)) {
        this._apply(generation, null, '');
        return;
      }
      const key = this._key();
      const reply = await this._owner.request<{ provenance: IProvenance | null }>(
        provenanceEndpoint(this._panel.context.path, kernel)
      );
      const provenance = reply?.provenance ?? null;
      this._apply(
        generation,
        provenance !== null && typeof provenance === 'object' ? { ...provenance } : null,
        key
      );
    } catch (error) {
      if (this._apply(generation, null, '')) {
        console.warn(
          `jupyter-uv-kernels: no provenance for ${this._panel.context.path}; ` +
            `metadata.${PROVENANCE_KEY} is left as it is on the next save.`,
          error
        );
      }
    }
  }

  /** Keep the answer of request `generation` unless a later request has answered. */
  private _apply(generation: number, provenance: IProvenance | null, key: string): boolean {
    if (this._isDisposed || generation < this._applied) {
      return false;
    }
    this._applied = generation;
    this._provenance = provenance;
    this._provenanceKey = key;
    return true;
  }

  private _kernelName(): string | undefined {
    return this._panel.sessionContext.session?.kernel?.name;
  }

  /** What the provenance was fetched for: the kernel and the notebook's path. */
  private _key(): string {
    return `${this._kernelName() ?? ''}\n${this._panel.context.path}`;
  }

  private _onChange(): void {
    void this.refresh();
  }

  private _onModelState(_: unknown, change: { name: string; newValue: unknown }): void {
    // The first edit after a save: the lock may have changed since (a uv add in a terminal).
    if (change.name === 'dirty' && change.newValue === true) {
      void this.refresh();
    }
  }

  private _onSaveState(_: unknown, state: 'started' | 'failed' | 'completed'): void {
    if (state === 'started') {
      this._write();
    } else if (state === 'completed') {
      void this.refresh();
    }
  }

  /** Runs synchronously inside the save, before the model is serialised; never throws. */
  private _write(): void {
    try {
      const provenance = this._provenance;
      // Until a fetch for the current kernel and path has answered, keep what is there.
      if (!provenance || !this._owner.enabled || this._provenanceKey !== this._key()) {
        return;
      }
      const model = this._panel.context.model;
      if (!JSONExt.deepEqual(model.getMetadata(PROVENANCE_KEY) ?? null, provenance)) {
        model.setMetadata(PROVENANCE_KEY, provenance);
      }
    } catch (error) {
      console.warn('jupyter-uv-kernels: could not record provenance', error);
    }
  }

  /** The last request made, and the last one whose answer was kept. */
  private _generation = 0;
  private _applied = 0;
  private _isDisposed = false;
  private _provenance: IProvenance | null = null;
  private _provenanceKey = '';
}
