/**
 * "Run as batch job": the file, the environment, the scheduler's resources and, for a
 * notebook, its parameters (a script: its arguments). The defaults come from a dry run;
 * a refusal is shown where it belongs and the form keeps what was typed.
 */
import * as React from 'react';

import { InlineError, refusal, TextButton, useSignals } from '../components/common';
import { IEnvironmentsModel } from '../tokens';
import { IJob, IJobRequest, IJobScript, JobsClient, ParameterValue } from './api';
import {
  environmentForKernel,
  fieldOfJobRefusal,
  IInitialValue,
  initialValue,
  IRemembered,
  parameterValue,
  PROJECT_KERNEL,
  RESOURCE_FIELDS,
  ResourceField,
  runnableEnvironments,
  sourceHint,
  splitArgs,
  validateParameterName,
  validateWalltime
} from './format';
import { IParameterRow, ParameterRows } from './ParameterRows';

export interface IJobFormProps {
  /** The notebook or script, relative to the server root. */
  path: string;
  kind: 'notebook' | 'script';
  /** The notebook's kernel (its session's, or its metadata's), or null. */
  kernel: string | null;
  environments: IEnvironmentsModel;
  client: JobsClient;
  remembered: IRemembered;
  onSubmitted: (job: IJob, request: IJobRequest) => void;
  onClose: () => void;
}

type Field = ResourceField | 'env' | 'name' | 'parameters' | 'args' | 'form';
type Errors = Partial<Record<Field, string>>;

const LABELS: Record<ResourceField, string> = {
  account: 'Account',
  queue: 'Queue',
  select: 'Select',
  walltime: 'Walltime'
};

const PLACEHOLDERS: Record<ResourceField, string> = {
  account: 'project code, e.g. UABC0001',
  queue: 'e.g. casper',
  select: '1:ncpus=4:mem=16GB',
  walltime: 'HH:MM:SS'
};

const EMPTY_VALUES: Record<ResourceField, IInitialValue> = {
  account: { value: '', source: null },
  queue: { value: '', source: null },
  select: { value: '', source: null },
  walltime: { value: '', source: null }
};

export function JobForm(props: IJobFormProps): JSX.Element {
  const { path, kind, kernel, client, environments } = props;
  useSignals(environments.changed);
  const envs = runnableEnvironments(environments.environments);
  const id = React.useId();
  const [env, setEnv] = React.useState(() => environmentForKernel(kernel, envs));
  const [envTouched, setEnvTouched] = React.useState(false);
  const [values, setValues] = React.useState<Record<ResourceField, IInitialValue>>(EMPTY_VALUES);
  const [touched, setTouched] = React.useState<ReadonlySet<ResourceField>>(new Set());
  const [name, setName] = React.useState('');
  const [rows, setRows] = React.useState<IParameterRow[]>([]);
  const [argsText, setArgsText] = React.useState('');
  const [defaults, setDefaults] = React.useState<IJobScript | null>(null);
  const [preview, setPreview] = React.useState<IJobScript | null>(null);
  const [errors, setErrors] = React.useState<Errors>({});
  const [busy, setBusy] = React.useState<'defaults' | 'preview' | 'submit' | null>('defaults');

  // The environment list may arrive after the form: preselect the notebook's once it does.
  const kernelEnv = environmentForKernel(kernel, envs);
  React.useEffect(() => {
    if (!envTouched && !env && kernelEnv) {
      setEnv(kernelEnv);
    }
  }, [kernelEnv, envTouched, env]);

  // The effective defaults for this file in this environment: a dry run with nothing else.
  const touchedRef = React.useRef(touched);
  touchedRef.current = touched;
  React.useEffect(() => {
    let cancelled = false;
    setBusy('defaults');
    client
      .preview(env ? { path, env } : { path })
      .then(reply => {
        if (cancelled) {
          return;
        }
        setDefaults(reply);
        setValues(current => {
          const next = { ...current };
          for (const field of RESOURCE_FIELDS) {
            if (!touchedRef.current.has(field)) {
              next[field] = initialValue(field, reply.settings, props.remembered);
            }
          }
          return next;
        });
        setErrors(current => ({ ...current, form: undefined }));
      })
      .catch(error => {
        if (!cancelled) {
          const message = refusal(error).message;
          const field = fieldOfJobRefusal(message);
          setErrors(current => ({ ...current, [field === 'env' ? 'env' : 'form']: message }));
        }
      })
      .finally(() => !cancelled && setBusy(null));
    return () => {
      cancelled = true;
    };
    // props.remembered is read once; it does not change while the form is open.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, path, env]);

  const setField = (field: ResourceField, value: string): void => {
    setValues(current => ({ ...current, [field]: { value, source: current[field].source } }));
    setTouched(current => new Set([...current, field]));
    setErrors(current => ({ ...current, [field]: undefined }));
  };

  /** The request the form describes, or the problems that keep it from being sent. */
  const build = (): { request: IJobRequest | null; found: Errors } => {
    const found: Errors = {};
    const request: IJobRequest = { path };
    if (env) {
      request.env = env;
    }
    for (const field of RESOURCE_FIELDS) {
      const value = values[field].value.trim();
      if (value) {
        request[field] = value;
      }
    }
    const walltimeError = validateWalltime(values.walltime.value);
    if (walltimeError) {
      found.walltime = walltimeError;
    }
    if (name.trim()) {
      request.name = name.trim();
    }
    if (kind === 'notebook') {
      const parameters: Record<string, ParameterValue> = {};
      for (const row of rows) {
        const key = row.name.trim();
        if (!key && !row.value.trim()) {
          continue;
        }
        const problem =
          validateParameterName(key) ?? (key in parameters ? `"${key}" is given twice.` : null);
        if (problem) {
          found.parameters = problem;
          break;
        }
        parameters[key] = parameterValue(row.value);
      }
      request.parameters = parameters;
    } else {
      const { args, error } = splitArgs(argsText);
      if (error) {
        found.args = error;
      }
      request.args = args;
    }
    return { request: Object.keys(found).length ? null : request, found };
  };

  const send = async (what: 'preview' | 'submit'): Promise<void> => {
    const { request, found } = build();
    setErrors(found);
    if (!request) {
      return;
    }
    setBusy(what);
    try {
      if (what === 'preview') {
        setPreview(await client.preview(request));
      } else {
        const job = await client.submit(request);
        props.onSubmitted(job, request);
      }
    } catch (error) {
      const message = refusal(error).message;
      setErrors({ [fieldOfJobRefusal(message)]: message });
    } finally {
      setBusy(null);
    }
  };

  const settings = defaults?.settings;
  const projectLabel =
    kind === 'notebook'
      ? kernel === PROJECT_KERNEL
        ? 'The project this notebook is in (its kernel)'
        : "The notebook's kernel, the project it is in, or its inline dependencies"
      : 'The project this script is in, or its inline dependencies';
  const fieldError = (field: Field): JSX.Element | null =>
    errors[field] ? <InlineError id={`${id}-${field}-error`} message={errors[field]!} /> : null;
  const describedBy = (field: Field, hint = true): string =>
    [hint ? `${id}-${field}-hint` : '', errors[field] ? `${id}-${field}-error` : '']
      .filter(Boolean)
      .join(' ');

  return (
    <form
      className="jp-UvKernels-jobform"
      data-path={path}
      aria-label={`Run ${path} as a batch job`}
      onSubmit={event => {
        event.preventDefault();
        void send('submit');
      }}
    >
      <div className="jp-UvKernels-jobform-field">
        <label className="jp-UvKernels-label" htmlFor={`${id}-path`}>
          {kind === 'notebook' ? 'Notebook' : 'Script'}
        </label>
        <input
          id={`${id}-path`}
          className="jp-UvKernels-input"
          value={path}
          readOnly
          aria-readonly="true"
        />
      </div>

      <div className="jp-UvKernels-jobform-field">
        <label className="jp-UvKernels-label" htmlFor={`${id}-env`}>
          Environment
        </label>
        <select
          id={`${id}-env`}
          className="jp-UvKernels-select jp-UvKernels-job-env"
          value={env}
          aria-invalid={!!errors.env || undefined}
          aria-describedby={describedBy('env')}
          onChange={event => {
            setEnv(event.target.value);
            setEnvTouched(true);
            setErrors(current => ({ ...current, env: undefined }));
          }}
        >
          <option value="">{projectLabel}</option>
          {envs.map(e => (
            <option key={e.id} value={e.id} title={e.path}>
              {e.name} ({e.kind}
              {e.kernel ? `, ${e.kernel}` : ''})
            </option>
          ))}
        </select>
        <div id={`${id}-env-hint`} className="jp-UvKernels-muted jp-UvKernels-jobform-hint">
          {settings?.env_path
            ? `Runs in ${settings.env_path}${settings.kernel ? ` on kernel ${settings.kernel}` : ''}`
            : settings
              ? settings.kernel
                ? `Runs on the notebook's inline dependencies (kernel ${settings.kernel})`
                : "Runs on the script's inline dependencies (uv run --script)"
              : busy === 'defaults'
                ? 'Asking the server for the defaults…'
                : ''}
        </div>
        {fieldError('env')}
      </div>

      <fieldset className="jp-UvKernels-jobform-resources">
        <legend className="jp-UvKernels-label">Resources</legend>
        {RESOURCE_FIELDS.map(field => (
          <div className="jp-UvKernels-jobform-field" key={field}>
            <label className="jp-UvKernels-label" htmlFor={`${id}-${field}`}>
              {LABELS[field]}
            </label>
            <input
              id={`${id}-${field}`}
              className="jp-UvKernels-input"
              data-field={field}
              value={values[field].value}
              placeholder={PLACEHOLDERS[field]}
              spellCheck={false}
              aria-invalid={!!errors[field] || undefined}
              aria-describedby={describedBy(field)}
              onChange={event => setField(field, event.target.value)}
            />
            <div
              id={`${id}-${field}-hint`}
              className="jp-UvKernels-muted jp-UvKernels-jobform-hint"
              data-source={values[field].source ?? ''}
            >
              {touched.has(field) ? '' : sourceHint(values[field].source)}
            </div>
            {fieldError(field)}
          </div>
        ))}
        <div className="jp-UvKernels-muted jp-UvKernels-jobform-hint jp-UvKernels-jobform-note">
          The account and queue you used last replace the site defaults, but not the values of the
          project&rsquo;s <code>[tool.jupyter-uv-kernels.job]</code> table.
        </div>
      </fieldset>

      <div className="jp-UvKernels-jobform-field">
        <label className="jp-UvKernels-label" htmlFor={`${id}-name`}>
          Job name
        </label>
        <input
          id={`${id}-name`}
          className="jp-UvKernels-input"
          value={name}
          placeholder={settings?.name ?? ''}
          spellCheck={false}
          aria-invalid={!!errors.name || undefined}
          aria-describedby={describedBy('name', false)}
          onChange={event => setName(event.target.value)}
        />
        {fieldError('name')}
      </div>

      {kind === 'notebook' ? (
        <fieldset className="jp-UvKernels-jobform-field">
          <legend className="jp-UvKernels-label">Parameters</legend>
          <ParameterRows
            id={`${id}-parameters`}
            rows={rows}
            onChange={next => {
              setRows(next);
              setErrors(current => ({ ...current, parameters: undefined }));
            }}
            invalid={!!errors.parameters}
            describedBy={describedBy('parameters')}
          />
          <div
            id={`${id}-parameters-hint`}
            className="jp-UvKernels-muted jp-UvKernels-jobform-hint"
          >
            They replace the values of the cell tagged <code>parameters</code>. Numbers, True/False
            and None are passed as such, anything else as text.
          </div>
          {fieldError('parameters')}
        </fieldset>
      ) : (
        <div className="jp-UvKernels-jobform-field">
          <label className="jp-UvKernels-label" htmlFor={`${id}-args`}>
            Arguments
          </label>
          <input
            id={`${id}-args`}
            className="jp-UvKernels-input"
            value={argsText}
            placeholder="--year 2024 'a quoted value'"
            spellCheck={false}
            aria-invalid={!!errors.args || undefined}
            aria-describedby={describedBy('args')}
            onChange={event => {
              setArgsText(event.target.value);
              setErrors(current => ({ ...current, args: undefined }));
            }}
          />
          <div id={`${id}-args-hint`} className="jp-UvKernels-muted jp-UvKernels-jobform-hint">
            After the script: <code>python {path.split('/').pop()} ARGS</code>
          </div>
          {fieldError('args')}
        </div>
      )}

      {defaults?.note && <div className="jp-UvKernels-warn">{defaults.note}</div>}
      {fieldError('form')}

      <div className="jp-UvKernels-row jp-UvKernels-form-buttons">
        <TextButton onClick={props.onClose}>Close</TextButton>
        <TextButton disabled={busy !== null} onClick={() => void send('preview')}>
          Preview script
        </TextButton>
        <TextButton accept type="submit" disabled={busy !== null}>
          {busy === 'submit' ? 'Submitting…' : 'Submit'}
        </TextButton>
      </div>

      {preview && (
        <section className="jp-UvKernels-jobform-preview" aria-label="Job script">
          <div className="jp-UvKernels-muted">
            {preview.script_path}
            {preview.submit_command ? ` — submit by hand with: ${preview.submit_command}` : ''}
          </div>
          <pre className="jp-UvKernels-log jp-UvKernels-job-script">{preview.script}</pre>
        </section>
      )}
    </form>
  );
}
