/**
 * The Jobs section's state: `GET jobs`, polled while the section is visible and some job
 * can still change, and once more right after a submit or a cancel. No React here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage } from '../api';
import { IJob, IJobList, JobsClient, Scheduler } from './api';
import { isFinal } from './format';

/**
 * How often the list is re-read while a job is queued or running, in ms. Each read is one
 * qstat/squeue for all the jobs; every 15 s is gentle on a shared scheduler.
 */
export const JOBS_POLL_INTERVAL_MS = 15_000;

export class JobsModel {
  constructor(
    readonly client: JobsClient,
    private readonly _interval = JOBS_POLL_INTERVAL_MS
  ) {}

  /** Newest first. */
  get jobs(): ReadonlyArray<IJob> {
    return this._list?.jobs ?? [];
  }
  get scheduler(): Scheduler | null {
    return this._list?.scheduler ?? null;
  }
  /** Why the states could not be refreshed (the server's JobList.problem). */
  get problem(): string | null {
    return this._list?.problem ?? null;
  }
  /** Why the list itself could not be read. */
  get error(): string | null {
    return this._error;
  }
  get loaded(): boolean {
    return this._list !== null || this._error !== null;
  }
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether a finished job's executed notebook exists (undefined: not known yet). */
  outputExists(id: string): boolean | undefined {
    return this._outputs.get(id);
  }

  /** The section sets this; polling runs only while it is true. */
  get visible(): boolean {
    return this._visible;
  }
  set visible(value: boolean) {
    if (value === this._visible) {
      return;
    }
    this._visible = value;
    if (value) {
      void this.refresh();
    } else {
      this._clearTimer();
    }
  }

  /**
   * Read the list now. A read under way may have started before the change the caller
   * knows of (a submit): then one more read follows it, shared by every caller meanwhile.
   */
  refresh(): Promise<void> {
    if (this._disposed) {
      return Promise.resolve();
    }
    if (this._pending) {
      if (!this._next) {
        this._next = this._pending.then(() => {
          this._next = null;
          return this.refresh();
        });
      }
      return this._next;
    }
    this._pending = this._fetch().finally(() => {
      this._pending = null;
      this._schedule();
    });
    return this._pending;
  }

  /** Cancel a job (qdel / scancel), then re-read the list. */
  async cancel(id: string): Promise<IJob> {
    const job = await this.client.cancel(id);
    await this.refresh();
    return job;
  }

  dispose(): void {
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    try {
      const list: IJobList = await this.client.list();
      this._list = list;
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
    }
    this._changed.emit();
    await this._checkOutputs();
  }

  /** Ask once per ended notebook job whether its executed notebook is there. */
  private async _checkOutputs(): Promise<void> {
    const unknown = this.jobs.filter(
      job => isFinal(job) && job.open_output && !this._outputs.has(job.id)
    );
    for (const job of unknown) {
      try {
        const detail = await this.client.detail(job.id);
        this._outputs.set(job.id, detail.output_exists);
      } catch {
        this._outputs.set(job.id, false);
      }
      this._changed.emit();
    }
  }

  private _schedule(): void {
    this._clearTimer();
    if (this._disposed || !this._visible || !this.jobs.some(job => !isFinal(job))) {
      return;
    }
    this._timer = setTimeout(() => void this.refresh(), this._interval);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _list: IJobList | null = null;
  private _error: string | null = null;
  private _visible = false;
  private _pending: Promise<void> | null = null;
  private _next: Promise<void> | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _outputs = new Map<string, boolean>();
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}
