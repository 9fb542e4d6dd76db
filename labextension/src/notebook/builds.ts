/**
 * The first build's progress (issue 15): while a uv-script kernel of a notebook starts,
 * the server builds the notebook's env as a `build-notebook-env` operation. This finds it
 * in `GET operations`, follows it and shows it as one notification: in progress with uv's
 * latest line, then success or failure. A cached env starts without a build; nothing is
 * shown then.
 */
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';

import { RequestFunction, UvKernelsClient } from '../api';
import { failureSummary, OperationsModel } from '../operations';
import { IOperation, ITrackedOperation } from '../tokens';
import { BUILD_ACTION, NotebookClient } from './api';
import { buildProgressMessage, concernsNotebook, fileName, SCRIPT_KERNEL } from './format';

/** How often the operations are read while a uv-script kernel starts, in ms. */
const POLL_MS = 500;
/** How long to look for a build after a start began, in ms (it appears at once). */
const FIND_MS = 30_000;
/** Kernel states that mean a kernel is being started (a build may be under way). */
export const STARTING = new Set(['starting', 'restarting', 'autorestarting', 'unknown']);
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

export class BuildWatcher {
  constructor(options: {
    request: RequestFunction;
    pollInterval: number;
    /** The notebook's real path on the server, when known (from its dependencies). */
    realPath: (localPath: string) => string | null;
  }) {
    this._client = new NotebookClient(options.request);
    this._realPath = options.realPath;
    this._builds = new OperationsModel({
      client: new UvKernelsClient(options.request),
      pollInterval: options.pollInterval,
      keepFinished: 0
    });
    this._builds.operationStarted.connect((_, t) => this._started(t));
    this._builds.operationChanged.connect((_, t) => this._changed(t));
    this._builds.operationFinished.connect((_, t) => this._finished(t));
  }

  /** Look for the build of this notebook's env, for a while, and follow it if there is one. */
  async watch(panel: NotebookPanel): Promise<void> {
    const path = panel.context.path;
    if (this._watching.has(path)) {
      return;
    }
    this._watching.add(path);
    // A quick build may be over before the first look: one begun just before counts.
    const since = Date.now() - 10_000;
    const deadline = Date.now() + FIND_MS;
    try {
      while (Date.now() < deadline && !panel.isDisposed) {
        const build = await this._find(path, since);
        if (build) {
          this._seen.add(build.id);
          this._builds.track(build, `Build the environment of ${fileName(path)}`);
          return;
        }
        const kernel = panel.sessionContext.session?.kernel;
        if (kernel?.name === SCRIPT_KERNEL && !STARTING.has(kernel.status)) {
          return; // started on a cached env
        }
        await new Promise(resolve => setTimeout(resolve, POLL_MS));
      }
    } finally {
      this._watching.delete(path);
    }
  }

  private async _find(path: string, since: number): Promise<IOperation | undefined> {
    let ops: IOperation[];
    try {
      ops = await this._client.operations();
    } catch {
      return undefined; // a transient error: look again
    }
    const realPath = this._realPath(path);
    return ops.find(
      op =>
        (op.action as string) === BUILD_ACTION &&
        !this._seen.has(op.id) &&
        concernsNotebook(op, path, realPath) &&
        (!FINAL.has(op.state) || Date.parse(op.created_at ?? '') >= since)
    );
  }

  private _started(t: ITrackedOperation): void {
    this._notes.set(
      t.operation.id,
      Notification.emit(buildProgressMessage(t.operation.path, t.log), 'in-progress', {
        autoClose: false
      })
    );
  }

  private _changed(t: ITrackedOperation): void {
    const id = this._notes.get(t.operation.id);
    if (id && !t.finished) {
      Notification.update({
        id,
        message: buildProgressMessage(t.operation.path, t.log),
        type: 'in-progress',
        autoClose: false
      });
    }
  }

  private _finished(t: ITrackedOperation): void {
    const id = this._notes.get(t.operation.id);
    this._notes.delete(t.operation.id);
    const name = fileName(t.operation.path);
    const ok = t.operation.state === 'succeeded';
    const message = ok
      ? `The environment of ${name} is built; its kernel is starting.`
      : `Building the environment of ${name} failed: ${failureSummary(t)}`;
    const type = ok ? 'success' : 'error';
    const autoClose = ok ? 5000 : (false as const);
    if (!id || !Notification.update({ id, message, type, autoClose })) {
      Notification.emit(message, type, { autoClose });
    }
  }

  private _client: NotebookClient;
  private _realPath: (localPath: string) => string | null;
  private _builds: OperationsModel;
  private _notes = new Map<string, string>();
  private _seen = new Set<string>();
  private _watching = new Set<string>();
}
