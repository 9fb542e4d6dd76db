/**
 * The job form's and the Jobs section's pure logic: no React, no JupyterLab (unit-tested
 * with node's test runner).
 */
import type { IEnvironment } from '../tokens';
import type { IJob, IJobSettings, JobState, ParameterValue, SettingSource } from './api';

/** The kernelspec that runs "the uv project this notebook is in". */
export const PROJECT_KERNEL = 'uv-project';

/** States a job does not leave. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['finished', 'failed', 'cancelled']);

export function isFinal(job: IJob): boolean {
  return FINAL_STATES.has(job.state);
}

/** Whether Cancel applies. */
export function isCancellable(job: IJob): boolean {
  return job.state === 'queued' || job.state === 'running';
}

/** What a file runs as, from its name; null: not something a job can run. */
export function jobKind(path: string): 'notebook' | 'script' | null {
  if (/\.ipynb$/i.test(path)) {
    return 'notebook';
  }
  return /\.py$/i.test(path) ? 'script' : null;
}

/** The last component of a path. */
export function fileName(path: string): string {
  const parts = path.split('/').filter(p => p !== '');
  return parts.length ? parts[parts.length - 1] : path;
}

/** Seconds as people say them: "45 s", "3 min", "1 h 5 min", "2 d 3 h". */
export function humanDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) {
    return '';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const rest = minutes % 60;
    return rest ? `${hours} h ${rest} min` : `${hours} h`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest ? `${days} d ${rest} h` : `${days} d`;
}

/**
 * The environment to preselect for a notebook whose kernel is `kernel`: the one whose
 * kernel it is. `uv-project` (the project the notebook is in), another kernel, or none:
 * '' (the server chooses).
 */
export function environmentForKernel(
  kernel: string | null,
  environments: ReadonlyArray<IEnvironment>
): string {
  if (!kernel || kernel === PROJECT_KERNEL) {
    return '';
  }
  return environments.find(env => env.kernel === kernel)?.id ?? '';
}

/** The environments a job can run in: those with a venv. */
export function runnableEnvironments(
  environments: ReadonlyArray<IEnvironment>
): ReadonlyArray<IEnvironment> {
  return environments.filter(env => env.venv !== null && env.status !== 'no-environment');
}

export type ResourceField = 'account' | 'queue' | 'select' | 'walltime';
export const RESOURCE_FIELDS: ReadonlyArray<ResourceField> = [
  'account',
  'queue',
  'select',
  'walltime'
];

/** The values this form remembers between jobs. */
export interface IRemembered {
  account?: string;
  queue?: string;
}

/** A form field's starting value and where it came from. */
export interface IInitialValue {
  value: string;
  source: SettingSource | 'remembered' | null;
}

/**
 * The value a resource field starts with: the project's table wins, then what this user
 * typed last time (account and queue only), then the site default.
 */
export function initialValue(
  field: ResourceField,
  settings: IJobSettings,
  remembered: IRemembered
): IInitialValue {
  const source = settings.sources?.[field] ?? null;
  const value = settings[field] ?? '';
  if (source === 'project') {
    return { value, source };
  }
  const last = field === 'account' || field === 'queue' ? remembered[field] : undefined;
  if (last) {
    return { value: last, source: 'remembered' };
  }
  return { value, source: value ? source : null };
}

/** How a field's starting value is explained next to it. */
export function sourceHint(source: IInitialValue['source']): string {
  switch (source) {
    case 'project':
      return "from the project's [tool.jupyter-uv-kernels.job]";
    case 'site':
      return 'site default';
    case 'remembered':
      return 'last used';
    default:
      return '';
  }
}

/** `HH:MM:SS` (hours may have more digits). */
export function validateWalltime(text: string): string | null {
  const value = text.trim();
  if (!value || /^\d{1,4}:[0-5]\d:[0-5]\d$/.test(value)) {
    return null;
  }
  return 'Walltime is HH:MM:SS, e.g. 01:30:00.';
}

/** A papermill parameter name: a Python identifier. */
export function validateParameterName(name: string): string | null {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return null;
  }
  return `"${name}" is not a parameter name: letters, digits and _, not starting with a digit.`;
}

/**
 * A typed value as papermill should see it: numbers, True/False and None as such (as
 * papermill's own -p does), anything else as text.
 */
export function parameterValue(text: string): ParameterValue {
  const value = text.trim();
  if (/^[-+]?\d+$/.test(value) && Number.isSafeInteger(Number(value))) {
    return Number(value);
  }
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(value)) {
    return Number(value);
  }
  if (value === 'True' || value === 'true') {
    return true;
  }
  if (value === 'False' || value === 'false') {
    return false;
  }
  if (value === 'None' || value === 'null') {
    return null;
  }
  return text;
}

/** Split an arguments line the way a shell does for plain words and '…' or "…" quotes. */
export function splitArgs(text: string): { args: string[]; error: string | null } {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) {
        args.push(current);
        current = '';
        inWord = false;
      }
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) {
    return { args, error: `A ${quote} quote is not closed.` };
  }
  if (inWord) {
    args.push(current);
  }
  return { args, error: null };
}

/** The form field a server refusal names (its message names the field), or 'form'. */
export function fieldOfJobRefusal(
  message: string
): ResourceField | 'env' | 'name' | 'parameters' | 'args' | 'form' {
  const named: Array<[RegExp, ReturnType<typeof fieldOfJobRefusal>]> = [
    [/\baccount\b/i, 'account'],
    [/\bqueue\b|\bpartition\b/i, 'queue'],
    [/\bselect\b|ncpus|\bmem\b|ngpus/i, 'select'],
    [/\bwalltime\b/i, 'walltime'],
    [/\bparameters?\b/i, 'parameters'],
    [/\bargs\b|\barguments?\b/i, 'args'],
    [/\benv\b|\benvironment\b|\bkernel\b/i, 'env'],
    [/\bname\b/i, 'name']
  ];
  return named.find(([pattern]) => pattern.test(message))?.[1] ?? 'form';
}
