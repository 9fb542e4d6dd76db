/**
 * The environments under the roots: the list, the scan state, details on demand.
 *
 * No React and no JupyterLab UI here; it talks to the server only through the shared
 * client, so it runs (and is tested) without a browser, and several views can share it.
 */
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { UvKernelsClient } from './api';
import { errorMessage } from './api';
import {
  IEnvironment,
  IEnvironmentDetails,
  IEnvironmentsModel,
  IFileListing,
  IIndex,
  IOperationsModel,
  IPython,
  ITrackedOperation
} from './tokens';

/** How often the list is re-read while the server is scanning, in ms. */
const SCANNING_POLL_MS = 1000;

export namespace EnvironmentsModel {
  export interface IOptions {
    client: UvKernelsClient;
    /** Seconds between automatic re-reads of the list; 0 turns them off. */
    refreshInterval?: number;
    /** How often the list is re-read while the server scans, in ms (default 1000). */
    scanningPollInterval?: number;
  }
}

/** Which environment has which kernel: when it differs between two reads, kernels changed. */
export function kernelSignature(envs: ReadonlyArray<IEnvironment>): string {
  return envs
    .map(e => `${e.id}:${e.kernel ?? ''}`)
    .sort()
    .join('\n');
}

/** The later of two ISO times (either may be null). */
export function laterTime(a: string | null, b: string | null): string | null {
  if (!a || !b) {
    return a ?? b;
  }
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (isNaN(ta) || isNaN(tb)) {
    return isNaN(ta) ? b : a;
  }
  return tb > ta ? b : a;
}

/** Reads that follow a check a look started (one per `scanningPollInterval`). */
const LOOK_FOLLOW_READS = 5;

export class EnvironmentsModel implements IEnvironmentsModel {
  constructor(options: EnvironmentsModel.IOptions) {
    this._client = options.client;
    this._refreshInterval = options.refreshInterval ?? 0;
    this._scanningPollInterval = options.scanningPollInterval ?? SCANNING_POLL_MS;
  }

  get environments(): ReadonlyArray<IEnvironment> {
    return this._environments;
  }
  get roots(): ReadonlyArray<string> {
    return this._roots;
  }
  get scanning(): boolean {
    return this._scanning;
  }
  get partial(): boolean {
    return this._partial;
  }
  get scannedAt(): string | null {
    return this._scannedAt;
  }
  get updatedAt(): string | null {
    return laterTime(this._scannedAt, this._settledAt);
  }
  get error(): string | null {
    return this._error;
  }
  get loaded(): boolean {
    return this._loaded;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get kernelsChanged(): ISignal<this, void> {
    return this._kernelsChanged;
  }

  /** Seconds between automatic re-reads of the list (0: off). */
  get refreshInterval(): number {
    return this._refreshInterval;
  }
  set refreshInterval(seconds: number) {
    if (seconds === this._refreshInterval) {
      return;
    }
    this._refreshInterval = seconds;
    if (this._started) {
      this._schedulePeriodic();
    }
  }

  /**
   * Register a view of the list (the sidebar, an environment tab): the periodic re-read
   * runs only while at least one registered view is shown, because every read is a look
   * that can make the server check the roots. With no view registered it always runs.
   */
  watch(isShown: () => boolean): IDisposable {
    this._watchers.add(isShown);
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose: () => {
        disposed = true;
        this._watchers.delete(isShown);
      }
    };
  }

  /** A view of the list was shown: read it now if a periodic read was skipped meanwhile. */
  shown(): void {
    if (this._missedTick && !this._disposed) {
      this._missedTick = false;
      void this.fetch();
    }
  }

  private _anyViewShown(): boolean {
    if (this._watchers.size === 0) {
      return true;
    }
    for (const isShown of this._watchers) {
      if (isShown()) {
        return true;
      }
    }
    return false;
  }

  /** Load the list and re-read it every `refreshInterval` seconds. */
  async start(): Promise<void> {
    this._started = true;
    this._schedulePeriodic();
    await this.fetch();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._periodicTimer);
    clearTimeout(this._scanTimer);
    Signal.clearData(this);
  }

  environment(id: string): IEnvironment | undefined {
    return this._environments.find(e => e.id === id);
  }

  /**
   * Re-read the list; keeps re-reading every second while the server scans. When the
   * kernels differ from the last read (a server-side check found or lost an environment
   * made in a terminal), `kernelsChanged` is emitted so the launcher re-reads kernelspecs.
   */
  async fetch(): Promise<void> {
    clearTimeout(this._scanTimer);
    this._missedTick = false;
    let kernelsMoved = false;
    try {
      const list = await this._client.environments();
      if (this._disposed) {
        return;
      }
      const kernels = kernelSignature(list.environments);
      kernelsMoved = this._lastKernels !== null && kernels !== this._lastKernels;
      this._lastKernels = kernels;
      this._environments = list.environments;
      this._roots = list.roots;
      this._scanning = list.scanning;
      this._checking = list.checking === true;
      this._partial = list.partial;
      this._scannedAt = list.scanned_at;
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
    }
    this._loaded = true;
    if (this._disposed) {
      return;
    }
    this._changed.emit();
    if (kernelsMoved) {
      this._kernelsChanged.emit();
    }
    // Follow a scan to its end; follow a check (every read is a look, which may start one)
    // for a few reads only, so that following never keeps the server checking.
    const followCheck = this._checking && this._checkReads > 0;
    if (this._scanning || followCheck) {
      if (followCheck && !this._scanning) {
        this._checkReads -= 1;
      }
      this._scanTimer = setTimeout(() => {
        void this.fetch();
      }, this._scanningPollInterval);
    }
  }

  /**
   * Someone looks (a launcher opened): read the list now, which makes the server check
   * for environments made or deleted in a terminal, and follow that check for a few reads,
   * so that `kernelsChanged` re-reads the launcher's kernelspecs when it found something.
   */
  look(): Promise<void> {
    this._checkReads = LOOK_FOLLOW_READS;
    return this.fetch();
  }

  /** Ask the server to rescan now (the refresh button), then follow the scan. */
  async refresh(): Promise<void> {
    this._scanning = true;
    this._changed.emit();
    try {
      await this._client.refresh();
    } catch (error) {
      this._scanning = false;
      this._error = errorMessage(error);
      this._changed.emit();
      throw error;
    }
    await this.fetch();
  }

  details(id: string): Promise<IEnvironmentDetails> {
    return this._client.details(id);
  }

  pythons(): Promise<IPython[]> {
    return this._client.pythons();
  }

  files(path: string | null): Promise<IFileListing> {
    return this._client.files(path);
  }

  indexes(): Promise<IIndex[]> {
    return this._client.indexes();
  }

  settle(env: IEnvironment, options: { kernelsChanged?: boolean; at?: string | null } = {}): void {
    this._replace(env);
    this._settledAt = laterTime(this._settledAt, options.at || new Date().toISOString());
    if (options.kernelsChanged) {
      this._kernelsChanged.emit();
    }
    this._changed.emit();
  }

  /**
   * Keep the list current as operations end: the record an operation brings replaces the
   * listed one at once, the kernels are announced as changed when it succeeded, and the
   * list is read again. Connect this before any view listens, so views see the new record.
   */
  followOperations(operations: IOperationsModel): void {
    operations.operationFinished.connect(this._onOperationFinished, this);
  }

  private _onOperationFinished(_: IOperationsModel, tracked: ITrackedOperation): void {
    const op = tracked.operation;
    const kernelsChanged = op.state === 'succeeded';
    if (op.environment) {
      this.settle(op.environment, { kernelsChanged, at: op.finished_at });
    } else if (kernelsChanged) {
      this._kernelsChanged.emit();
    }
    // After the views have had the record (a list read now may cross it in flight).
    setTimeout(() => {
      if (!this._disposed) {
        void this.fetch();
      }
    }, 0);
  }

  private _replace(env: IEnvironment): void {
    const index = this._environments.findIndex(e => e.id === env.id);
    if (index >= 0) {
      this._environments = [
        ...this._environments.slice(0, index),
        env,
        ...this._environments.slice(index + 1)
      ];
    } else {
      this._environments = [...this._environments, env];
    }
  }

  private _schedulePeriodic(): void {
    clearTimeout(this._periodicTimer);
    const seconds = this._refreshInterval;
    if (!(seconds > 0) || this._disposed) {
      return;
    }
    this._periodicTimer = setTimeout(() => {
      // Skip a tick while the page is hidden or no view of the list is shown (a read is a
      // look, and a look costs the filesystem a check); the list is read again when it is
      // due next, or when a view is shown.
      const pageVisible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
      const read = pageVisible && this._anyViewShown();
      this._missedTick = this._missedTick || !read;
      void (read ? this.fetch() : Promise.resolve()).finally(() => this._schedulePeriodic());
    }, seconds * 1000);
  }

  private _client: UvKernelsClient;
  private _watchers = new Set<() => boolean>();
  private _missedTick = false;
  private _refreshInterval: number;
  private _scanningPollInterval: number;
  /** kernelSignature of the last list read from the server (null before the first). */
  private _lastKernels: string | null = null;
  private _environments: IEnvironment[] = [];
  private _roots: string[] = [];
  private _scanning = false;
  private _checking = false;
  /** How many more reads may follow a server-side check (see `look`). */
  private _checkReads = 0;
  private _partial = false;
  private _scannedAt: string | null = null;
  private _settledAt: string | null = null;
  private _error: string | null = null;
  private _loaded = false;
  private _started = false;
  private _disposed = false;
  private _periodicTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _scanTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _changed = new Signal<this, void>(this);
  private _kernelsChanged = new Signal<this, void>(this);
}
