/**
 * The sidebar's Jobs section: one row per batch job submitted from here, newest first,
 * with its state, its time in the queue, and Cancel / Open result / Log.
 */
import * as React from 'react';

import { errorMessage } from '../api';
import { TextButton, useSignals } from '../components/common';
import { IJob, JobState } from './api';
import { fileName, humanDuration, isCancellable } from './format';
import { JobsModel } from './model';

/** What the rows ask of the application. */
export interface IJobActions {
  /** Ask, then cancel; false when the user said no. */
  cancel(job: IJob): Promise<void>;
  /** Open the executed notebook. */
  openResult(job: IJob): Promise<void>;
  /** Open the log file, or show the tail of the log. */
  showLog(job: IJob): Promise<void>;
}

const STATE_TITLES: Record<JobState, string> = {
  queued: 'Waiting in the queue',
  running: 'Running',
  finished: 'Finished',
  failed: 'Failed',
  cancelled: 'Cancelled',
  unknown: 'The scheduler could not be asked'
};

export function JobStateBadge(props: { job: IJob }): JSX.Element {
  const { job } = props;
  const details = [
    STATE_TITLES[job.state] ?? job.state,
    job.raw_state ? `scheduler: ${job.raw_state}` : '',
    job.exit_code !== null && job.exit_code !== undefined ? `exit code ${job.exit_code}` : '',
    job.comment ?? ''
  ].filter(Boolean);
  return (
    <span
      className={`jp-UvKernels-badge jp-UvKernels-jobstate-${job.state}`}
      data-state={job.state}
      title={details.join('; ')}
    >
      {job.state}
    </span>
  );
}

function JobRow(props: { job: IJob; model: JobsModel; actions: IJobActions }): JSX.Element {
  const { job, model, actions } = props;
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const act = async (action: (job: IJob) => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action(job);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const queued = humanDuration(job.queued_seconds);
  const hasResult =
    job.state === 'finished' && !!job.open_output && model.outputExists(job.id) === true;
  return (
    <li className="jp-UvKernels-job" data-job-id={job.id} data-state={job.state}>
      <div className="jp-UvKernels-job-header">
        <span className="jp-UvKernels-job-name" title={`${job.name} (${job.id})`}>
          {job.name}
        </span>
        <JobStateBadge job={job} />
      </div>
      <div className="jp-UvKernels-job-meta">
        <span className="jp-UvKernels-job-file" title={job.path}>
          {fileName(job.path)}
        </span>
        <span className="jp-UvKernels-job-id">{job.id}</span>
        {queued && (
          <span className="jp-UvKernels-job-waited" title="Time in the queue">
            {job.state === 'queued' ? `queued ${queued}` : `waited ${queued}`}
          </span>
        )}
      </div>
      <div className="jp-UvKernels-actions">
        {isCancellable(job) && (
          <TextButton
            warn
            disabled={busy}
            aria-label={`Cancel ${job.name}`}
            onClick={() => void act(actions.cancel)}
          >
            Cancel
          </TextButton>
        )}
        {hasResult && (
          <TextButton
            disabled={busy}
            aria-label={`Open result of ${job.name}`}
            title={job.open_output ?? ''}
            onClick={() => void act(actions.openResult)}
          >
            Open result
          </TextButton>
        )}
        <TextButton
          disabled={busy}
          aria-label={`Log of ${job.name}`}
          title={job.log_path}
          onClick={() => void act(actions.showLog)}
        >
          Log
        </TextButton>
      </div>
      {error && (
        <div className="jp-UvKernels-error" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}

export function JobList(props: { model: JobsModel; actions: IJobActions }): JSX.Element {
  const { model, actions } = props;
  useSignals(model.changed);
  return (
    <div className="jp-UvKernels-jobs" aria-label="Batch jobs">
      {model.problem && (
        <div className="jp-UvKernels-warn jp-UvKernels-jobs-problem" role="status">
          {model.problem}
        </div>
      )}
      {model.error && (
        <div className="jp-UvKernels-error jp-UvKernels-jobs-problem" role="alert">
          {model.error}
        </div>
      )}
      {!model.loaded ? (
        <div className="jp-UvKernels-empty jp-UvKernels-muted">Loading…</div>
      ) : model.jobs.length === 0 ? (
        <div className="jp-UvKernels-empty jp-UvKernels-muted">
          No batch jobs yet. Right-click a notebook or a .py file and choose Run as batch job.
        </div>
      ) : (
        <ul className="jp-UvKernels-job-list">
          {model.jobs.map(job => (
            <JobRow key={job.id} job={job} model={model} actions={actions} />
          ))}
        </ul>
      )}
    </div>
  );
}
