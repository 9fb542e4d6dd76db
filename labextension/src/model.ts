/**
 * The panel's state: environments, scan state and the operations being followed.
 *
 * No React and no JupyterLab UI here; the transport is injected, so the model runs (and
 * can be tested) without a browser.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { RequestFunction } from './api';
import {
  DEFAULT_SETTINGS,
  ICreateRequest,
  IEnvironment,
  IEnvironmentDetails,
  IEnvironmentList,
  ILogLine,
  IOperation,
  IOperationPage,
  IPython,
  ITrackedOperation,
  IUvKernelsModel,
  IUvKernelsSettings
} from './tokens';

const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

/** How often the list is re-read while the server is scanning, in ms. */
const SCANNING_POLL_MS = 1000;

/** Give up following an operation after this many consecutive failed polls. */
const MAX_POLL_FAILURES = 10;

/** The last part of a path, for labels. */
export function basename(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || path;
}

/** A requirement as labels show it: a direct URL reference shortens to its name. */
export function shortRequirement(requirement: string): string {
  const at = requirement.indexOf('@');
  return at > 0 ? requirement.slice(0, at).trim() : requirement;
}

/** A human label for an operation the client did not start itself. */
export function describeOperation(op: IOperation): string {
  const name = op.environment?.name ?? basename(op.path);
  switch (op.action) {
    case 'create':
      return `Create ${name}`;
    case 'sync':
      return `Sync ${name}`;
    case 'add':
      return `Add packages to ${name}`;
    case 'remove':
      return `Remove packages from ${name}`;
    case 'register':
      return `Register a kernel for ${name}`;
    default:
      return `${op.action} ${name}`;
  }
}

/**
 * The server's message, shortened for a toast (which shows ~140 characters): the uv
 * command line it starts with is dropped, and uv's last "cause:" line from the log is
 * added, since it usually names the culprit. The full message stays in the panel.
 */
export function failureSummary(tracked: ITrackedOperation): string {
  const message = (tracked.operation.message ?? '').trim();
  const base = message
    .replace(/^`[^`]*` failed:\s*/, '')
    .split('\n')[0]
    .trim();
  let cause = '';
  for (let i = tracked.log.length - 1; i >= 0 && !cause; i--) {
    const match = /^\s*(?:cause:|╰─▶)\s*(.+)$/.exec(tracked.log[i].line);
    if (match) {
      cause = match[1].trim();
    }
  }
  if (!base) {
    return cause || 'see its log in the uv environments panel.';
  }
  const summary = cause && !base.includes(cause) ? `${base.replace(/[.:]$/, '')}: ${cause}` : base;
  // A toast shows ~140 characters: when uv's reason would be cut off, lead with it.
  return summary.length > 140 && cause ? cause : summary;
}

class TrackedOperation implements ITrackedOperation {
  constructor(
    public operation: IOperation,
    public label: string
  ) {}
  log: ILogLine[] = [];
  next = 0;
  failures = 0;
  announcedFinish = false;

  get finished(): boolean {
    return FINAL_STATES.has(this.operation.state);
  }
}

export namespace UvKernelsModel {
  export interface IOptions {
    /** The transport: `requestAPI` in JupyterLab, a fake in unit tests. */
    request: RequestFunction;
    settings?: Partial<IUvKernelsSettings>;
    /** How often the list is re-read while the server scans, in ms (default 1000). */
    scanningPollInterval?: number;
  }
}

/** A JSON request body. */
export function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

export class UvKernelsModel implements IUvKernelsModel {
  constructor(options: UvKernelsModel.IOptions) {
    this._request = options.request;
    this._scanningPollInterval = options.scanningPollInterval ?? SCANNING_POLL_MS;
    this._settings = { ...DEFAULT_SETTINGS, ...(options.settings ?? {}) };
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
  get error(): string | null {
    return this._error;
  }
  /** True once the first list has arrived (or failed). */
  get loaded(): boolean {
    return this._loaded;
  }
  get operations(): ReadonlyArray<ITrackedOperation> {
    return [...this._operations.values()];
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  get settings(): IUvKernelsSettings {
    return this._settings;
  }
  set settings(value: IUvKernelsSettings) {
    const old = this._settings;
    this._settings = { ...value };
    if (old.refreshInterval !== value.refreshInterval && this._started) {
      this._schedulePeriodic();
    }
    this._pruneFinished();
    this._changed.emit();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get operationChanged(): ISignal<this, ITrackedOperation> {
    return this._operationChanged;
  }
  get operationStarted(): ISignal<this, ITrackedOperation> {
    return this._operationStarted;
  }
  get operationFinished(): ISignal<this, ITrackedOperation> {
    return this._operationFinished;
  }
  get kernelsChanged(): ISignal<this, void> {
    return this._kernelsChanged;
  }

  /** Load the list, pick up operations already running on the server, start polling. */
  async start(): Promise<void> {
    this._started = true;
    this._schedulePeriodic();
    await Promise.all([this.fetchEnvironments(), this._adoptRunningOperations()]);
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

  /** Re-read the list; keeps re-reading every second while the server scans. */
  async fetchEnvironments(): Promise<void> {
    clearTimeout(this._scanTimer);
    try {
      const list = await this._request<IEnvironmentList>('environments');
      if (this._disposed) {
        return;
      }
      this._environments = list.environments;
      this._roots = list.roots;
      this._scanning = list.scanning;
      this._partial = list.partial;
      this._scannedAt = list.scanned_at;
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._loaded = true;
    if (this._disposed) {
      return;
    }
    this._changed.emit();
    if (this._scanning) {
      this._scanTimer = setTimeout(() => {
        void this.fetchEnvironments();
      }, this._scanningPollInterval);
    }
  }

  /** Ask the server to rescan now (the refresh button), then follow the scan. */
  async refresh(): Promise<void> {
    this._scanning = true;
    this._changed.emit();
    try {
      await this._request('refresh', jsonBody('POST', {}));
    } catch (error) {
      this._scanning = false;
      this._error = error instanceof Error ? error.message : String(error);
      this._changed.emit();
      throw error;
    }
    await this.fetchEnvironments();
  }

  details(id: string): Promise<IEnvironmentDetails> {
    return this._request<IEnvironmentDetails>(`environments/${encodeURIComponent(id)}`);
  }

  async pythons(): Promise<IPython[]> {
    const reply = await this._request<{ pythons: IPython[] }>('pythons');
    return reply.pythons;
  }

  create(request: ICreateRequest): Promise<ITrackedOperation> {
    const kind = request.kind === 'venv' ? 'venv' : 'project';
    return this._start(
      'environments',
      jsonBody('POST', request),
      `Create ${kind} ${basename(request.path)}`
    );
  }

  sync(env: IEnvironment): Promise<ITrackedOperation> {
    return this._start(
      `environments/${encodeURIComponent(env.id)}/sync`,
      jsonBody('POST', { relock: false }),
      `Sync ${env.name}`
    );
  }

  addPackages(env: IEnvironment, packages: string[]): Promise<ITrackedOperation> {
    return this._start(
      `environments/${encodeURIComponent(env.id)}/packages`,
      jsonBody('POST', { packages }),
      `Add ${packages.map(shortRequirement).join(', ')} to ${env.name}`
    );
  }

  removePackage(env: IEnvironment, name: string): Promise<ITrackedOperation> {
    return this._start(
      `environments/${encodeURIComponent(env.id)}/packages/${encodeURIComponent(name)}`,
      { method: 'DELETE' },
      `Remove ${name} from ${env.name}`
    );
  }

  registerKernel(env: IEnvironment): Promise<ITrackedOperation> {
    return this._start(
      `environments/${encodeURIComponent(env.id)}/kernel`,
      jsonBody('POST', {}),
      `Register a kernel for ${env.name}`
    );
  }

  async unregisterKernel(env: IEnvironment): Promise<IEnvironment> {
    const reply = await this._request<{ environment: IEnvironment; removed: string[] }>(
      `environments/${encodeURIComponent(env.id)}/kernel`,
      { method: 'DELETE' }
    );
    this._replaceEnvironment(reply.environment);
    this._kernelsChanged.emit();
    this._changed.emit();
    return reply.environment;
  }

  async cancel(opId: string): Promise<void> {
    const reply = await this._request<{ operation: IOperation }>(
      `operations/${encodeURIComponent(opId)}`,
      { method: 'DELETE' }
    );
    const tracked = this._operations.get(opId);
    if (tracked) {
      tracked.operation = reply.operation;
      this._operationChanged.emit(tracked);
      // The follow loop notices the final state on its next poll and finishes it.
    }
  }

  /** Forget a finished operation (the log view's close button). */
  dismiss(opId: string): void {
    const tracked = this._operations.get(opId);
    if (tracked && tracked.finished) {
      this._operations.delete(opId);
      this._changed.emit();
    }
  }

  /** The record of one environment in the current list. */
  environment(id: string): IEnvironment | undefined {
    return this._environments.find(e => e.id === id);
  }

  // -- operations -----------------------------------------------------------------------

  private async _start(
    endpoint: string,
    init: RequestInit,
    label: string
  ): Promise<ITrackedOperation> {
    const reply = await this._request<{ operation: IOperation }>(endpoint, init);
    return this._track(reply.operation, label);
  }

  private _track(operation: IOperation, label: string): TrackedOperation {
    const existing = this._operations.get(operation.id);
    if (existing) {
      return existing;
    }
    const tracked = new TrackedOperation(operation, label);
    this._operations.set(operation.id, tracked);
    this._operationStarted.emit(tracked);
    this._changed.emit();
    void this._follow(tracked);
    return tracked;
  }

  /** Operations that were running before this page loaded (a reload, another tab). */
  private async _adoptRunningOperations(): Promise<void> {
    try {
      const reply = await this._request<{ operations: IOperation[] }>('operations');
      for (const op of reply.operations) {
        if (!FINAL_STATES.has(op.state)) {
          this._track(op, describeOperation(op));
        }
      }
    } catch {
      // Older servers or a transient error: nothing to adopt.
    }
  }

  private async _follow(tracked: TrackedOperation): Promise<void> {
    const id = encodeURIComponent(tracked.operation.id);
    while (!this._disposed) {
      try {
        const page = await this._request<IOperationPage>(`operations/${id}?since=${tracked.next}`);
        tracked.failures = 0;
        tracked.operation = page.operation;
        if (page.log.length) {
          tracked.log = tracked.log.concat(page.log);
        }
        tracked.next = page.next;
        this._operationChanged.emit(tracked);
        if (
          tracked.finished &&
          (tracked.next >= page.operation.log_length || page.log.length === 0)
        ) {
          break;
        }
        if (tracked.finished) {
          continue; // read the rest of the log at once
        }
      } catch (error) {
        tracked.failures++;
        const gone = (error as { status?: number }).status === 404;
        if (gone || tracked.failures >= MAX_POLL_FAILURES) {
          tracked.operation = {
            ...tracked.operation,
            state: 'failed',
            message: gone
              ? 'The server no longer knows this operation (was it restarted?).'
              : `Lost track of the operation: ${error instanceof Error ? error.message : String(error)}`
          };
          break;
        }
      }
      await sleep(Math.max(100, this._settings.operationPollInterval * 1000));
    }
    if (!this._disposed) {
      this._finish(tracked);
    }
  }

  private _finish(tracked: TrackedOperation): void {
    if (tracked.announcedFinish) {
      return;
    }
    tracked.announcedFinish = true;
    const op = tracked.operation;
    if (op.environment) {
      this._replaceEnvironment(op.environment);
    }
    this._operationChanged.emit(tracked);
    this._operationFinished.emit(tracked);
    if (op.state === 'succeeded') {
      this._kernelsChanged.emit();
    }
    this._pruneFinished();
    this._changed.emit();
    void this.fetchEnvironments();
  }

  /** Keep only the newest finished operations (running ones always stay). */
  private _pruneFinished(): void {
    const keep = Math.max(0, this._settings.keepFinishedOperations);
    const finished = [...this._operations.values()].filter(t => t.finished && t.announcedFinish);
    for (const t of finished.slice(0, Math.max(0, finished.length - keep))) {
      this._operations.delete(t.operation.id);
    }
  }

  private _replaceEnvironment(env: IEnvironment): void {
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
    const seconds = this._settings.refreshInterval;
    if (!(seconds > 0) || this._disposed) {
      return;
    }
    this._periodicTimer = setTimeout(() => {
      // Skip a tick while the page is hidden; the list is read again when it is due next.
      const visible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
      void (visible ? this.fetchEnvironments() : Promise.resolve()).finally(() =>
        this._schedulePeriodic()
      );
    }, seconds * 1000);
  }

  private _request: RequestFunction;
  private _scanningPollInterval: number;
  private _settings: IUvKernelsSettings;
  private _environments: IEnvironment[] = [];
  private _roots: string[] = [];
  private _scanning = false;
  private _partial = false;
  private _scannedAt: string | null = null;
  private _error: string | null = null;
  private _loaded = false;
  private _started = false;
  private _disposed = false;
  private _periodicTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _scanTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _operations = new Map<string, TrackedOperation>();
  private _changed = new Signal<this, void>(this);
  private _operationChanged = new Signal<this, ITrackedOperation>(this);
  private _operationStarted = new Signal<this, ITrackedOperation>(this);
  private _operationFinished = new Signal<this, ITrackedOperation>(this);
  private _kernelsChanged = new Signal<this, void>(this);
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
