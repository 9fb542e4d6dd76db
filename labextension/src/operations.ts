/**
 * The uv operations being followed: each one's state and log, read by polling, and cancel.
 *
 * No React and no JupyterLab UI here; it talks to the server only through the shared
 * client. Several views (the sidebar, a jobs view) can show the same operations.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { UvKernelsClient } from './api';
import { errorMessage } from './api';
import { IEnvironment, ILogLine, IOperation, IOperationsModel, ITrackedOperation } from './tokens';

const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

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
      return `Register kernel for ${name}`;
    case 'upgrade':
      return `Upgrade packages in ${name}`;
    case 'delete':
      return `Delete ${name}`;
    case 'copy':
      return `Copy into ${name}`;
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

/** Whether an operation concerns this environment (by id, or by path for a create). */
export function concerns(op: IOperation, env: IEnvironment): boolean {
  return op.env_id === env.id || op.environment?.id === env.id || op.path === env.path;
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

export namespace OperationsModel {
  export interface IOptions {
    client: UvKernelsClient;
    /** Seconds between two reads of a running operation's log (at least 0.1). */
    pollInterval?: number;
    /** How many finished operations to keep; running ones always stay. */
    keepFinished?: number;
  }
}

export class OperationsModel implements IOperationsModel {
  constructor(options: OperationsModel.IOptions) {
    this._client = options.client;
    this.pollInterval = options.pollInterval ?? 0.5;
    this._keepFinished = options.keepFinished ?? 5;
  }

  /** Seconds between two reads of a running operation's log. */
  pollInterval: number;

  /** How many finished operations to keep (older ones are dropped). */
  get keepFinished(): number {
    return this._keepFinished;
  }
  set keepFinished(value: number) {
    this._keepFinished = value;
    if (this._prune()) {
      this._changed.emit();
    }
  }

  get operations(): ReadonlyArray<ITrackedOperation> {
    return [...this._operations.values()];
  }
  get isDisposed(): boolean {
    return this._disposed;
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

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  track(operation: IOperation, label: string): ITrackedOperation {
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

  async adoptRunning(): Promise<void> {
    try {
      for (const op of await this._client.operations()) {
        if (!FINAL_STATES.has(op.state)) {
          this.track(op, describeOperation(op));
        }
      }
    } catch {
      // Older servers or a transient error: nothing to adopt.
    }
  }

  isBusy(env: IEnvironment): boolean {
    return [...this._operations.values()].some(t => !t.finished && concerns(t.operation, env));
  }

  async cancel(opId: string): Promise<void> {
    const operation = await this._client.cancelOperation(opId);
    const tracked = this._operations.get(opId);
    if (tracked) {
      tracked.operation = operation;
      this._operationChanged.emit(tracked);
      // The follow loop notices the final state on its next poll and finishes it.
    }
  }

  dismiss(opId: string): void {
    const tracked = this._operations.get(opId);
    if (tracked && tracked.finished) {
      this._operations.delete(opId);
      this._changed.emit();
    }
  }

  private async _follow(tracked: TrackedOperation): Promise<void> {
    while (!this._disposed) {
      try {
        const page = await this._client.operationPage(tracked.operation.id, tracked.next);
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
              : `Lost track of the operation: ${errorMessage(error)}`
          };
          break;
        }
      }
      await sleep(Math.max(100, this.pollInterval * 1000));
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
    this._operationChanged.emit(tracked);
    this._operationFinished.emit(tracked);
    this._prune();
    this._changed.emit();
  }

  /** Keep only the newest finished operations (running ones always stay). */
  private _prune(): boolean {
    const keep = Math.max(0, this._keepFinished);
    const finished = [...this._operations.values()].filter(t => t.finished && t.announcedFinish);
    const drop = finished.slice(0, Math.max(0, finished.length - keep));
    for (const t of drop) {
      this._operations.delete(t.operation.id);
    }
    return drop.length > 0;
  }

  private _client: UvKernelsClient;
  private _keepFinished: number;
  private _disposed = false;
  private _operations = new Map<string, TrackedOperation>();
  private _changed = new Signal<this, void>(this);
  private _operationChanged = new Signal<this, ITrackedOperation>(this);
  private _operationStarted = new Signal<this, ITrackedOperation>(this);
  private _operationFinished = new Signal<this, ITrackedOperation>(this);
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
