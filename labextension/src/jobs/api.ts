/**
 * The batch-job routes of the REST API (issue 13): the types of openapi.json's JobRequest,
 * Job, JobDetail, JobList and JobScript, and one typed method per route. The transport is
 * the panel's own (`requestAPI`, or a fake in unit tests).
 */
import { jsonBody, RequestFunction } from '../api';

export type Scheduler = 'pbs' | 'slurm';

export type JobState = 'queued' | 'running' | 'finished' | 'failed' | 'cancelled' | 'unknown';

/** A notebook parameter as papermill receives it. */
export type ParameterValue = string | number | boolean | null;

/** `POST jobs`: what to run, where, and with which resources. Unset fields are defaults. */
export interface IJobRequest {
  /** The notebook or script, relative to the server's root (the file browser's path). */
  path: string;
  /** An environment id from GET environments; unset: the notebook's kernel, or the project. */
  env?: string | null;
  /** A uv kernel name instead of env (not both). */
  kernel?: string | null;
  account?: string | null;
  queue?: string | null;
  select?: string | null;
  walltime?: string | null;
  name?: string | null;
  /** Notebooks only. */
  parameters?: Record<string, ParameterValue>;
  /** Scripts only. */
  args?: string[];
}

/** One batch job as the server recorded it. */
export interface IJob {
  id: string;
  scheduler: Scheduler;
  name: string;
  /** The notebook or script (absolute). */
  path: string;
  kind: 'notebook' | 'script';
  env_path: string;
  kernel?: string | null;
  account?: string | null;
  queue?: string | null;
  select?: string | null;
  walltime?: string | null;
  parameters?: Record<string, ParameterValue>;
  args?: string[];
  script_path: string;
  log_path: string;
  output_path?: string | null;
  /** output_path relative to the server root (for the contents API), or null. */
  open_output?: string | null;
  /** log_path relative to the server root, or null. */
  open_log?: string | null;
  /** Epoch seconds. */
  submitted_at: number;
  state: JobState;
  raw_state?: string | null;
  started_at?: number | null;
  ended_at?: number | null;
  queued_seconds?: number | null;
  exit_code?: number | null;
  comment?: string | null;
  cancelled: boolean;
}

/** `GET jobs/{id}`: the job and the tail of its log. */
export interface IJobDetail extends IJob {
  /** The last lines of the log ('' until it exists). */
  log_tail: string;
  output_exists: boolean;
}

/** `GET jobs`: newest first. */
export interface IJobList {
  jobs: IJob[];
  scheduler: Scheduler | null;
  /** Why the states could not be refreshed, else null. */
  problem: string | null;
}

/** Where an effective value came from. */
export type SettingSource = 'request' | 'project' | 'site';

/** The values a job would use after the defaults are applied. */
export interface IJobSettings {
  env_path?: string;
  kernel?: string | null;
  account?: string | null;
  queue?: string | null;
  select?: string | null;
  walltime?: string | null;
  name?: string;
  sources?: Record<string, SettingSource>;
}

/** `POST jobs?dry_run=true`: the script that would be submitted, and nothing submitted. */
export interface IJobScript {
  script: string;
  script_path: string;
  scheduler: Scheduler;
  submit_command?: string;
  settings: IJobSettings;
  /** Said when no scheduler is found here (the preview is then a PBS script). */
  note?: string | null;
}

/** The four job routes as typed methods; keeps no state. */
export class JobsClient {
  constructor(private readonly _request: RequestFunction) {}

  /** The script and the effective settings, without submitting or saving anything. */
  preview(request: IJobRequest): Promise<IJobScript> {
    return this._request<IJobScript>('jobs?dry_run=true', jsonBody('POST', request));
  }

  /** Write the script beside the file and submit it (201: the job as recorded). */
  submit(request: IJobRequest): Promise<IJob> {
    return this._request<IJob>('jobs', jsonBody('POST', request));
  }

  list(): Promise<IJobList> {
    return this._request<IJobList>('jobs');
  }

  detail(id: string): Promise<IJobDetail> {
    return this._request<IJobDetail>(jobPath(id));
  }

  /** qdel / scancel; a job that already ended is answered as it is. */
  cancel(id: string): Promise<IJob> {
    return this._request<IJob>(jobPath(id), { method: 'DELETE' });
  }
}

function jobPath(id: string): string {
  return `jobs/${encodeURIComponent(id)}`;
}
