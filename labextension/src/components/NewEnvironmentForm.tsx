import * as React from 'react';

import { errorMessage } from '../api';
import { failureSummary } from '../operations';
import { EnvironmentKind, IPython, ITrackedOperation } from '../tokens';
import {
  fieldOfRefusal,
  joinEnvironmentPath,
  parseRequirements,
  validateEnvironmentName,
  validateSubfolder
} from '../validate';
import { InlineError, IPanelHost, IPanelModels, refusal, TextButton, whenFinished } from './common';

interface IProps {
  models: IPanelModels;
  host: IPanelHost;
  onClose: () => void;
}

interface IErrors {
  name?: string;
  subfolder?: string;
  packages?: string;
  root?: string;
  python?: string;
  /** An error that belongs to no one field (e.g. uv failed), shown above the buttons. */
  form?: string;
  /** The full server message, for the tooltip of `form`. */
  formTitle?: string;
}

/** "New environment": where, what kind, which Python, which packages. */
export function NewEnvironmentForm(props: IProps): JSX.Element {
  const { models } = props;
  const model = models.environments;
  const [root, setRoot] = React.useState(model.roots[0] ?? '');
  const [subfolder, setSubfolder] = React.useState('');
  const [name, setName] = React.useState('');
  const [kind, setKind] = React.useState<EnvironmentKind>('project');
  const [python, setPython] = React.useState('');
  const [packages, setPackages] = React.useState('');
  const [pythons, setPythons] = React.useState<IPython[] | null>(null);
  const [pythonsError, setPythonsError] = React.useState<string | null>(null);
  const [errors, setErrors] = React.useState<IErrors>({});
  const [submitting, setSubmitting] = React.useState(false);
  /** The create operation while it runs: the form stays open, with what was typed. */
  const [running, setRunning] = React.useState<ITrackedOperation | null>(null);
  const nameRef = React.useRef<HTMLInputElement>(null);

  React.useEffect(() => {
    nameRef.current?.focus();
    let cancelled = false;
    // The server's order (interpreters that run, newest first by version number) is kept:
    // sorting the version strings here would put 3.9 above 3.13.
    model
      .pythons()
      .then(list => !cancelled && setPythons(list))
      .catch(error => !cancelled && setPythonsError(errorMessage(error)));
    return () => {
      cancelled = true;
    };
  }, [model]);

  React.useEffect(() => {
    if (!root && model.roots.length) {
      setRoot(model.roots[0]);
    }
  }, [model.roots, root]);

  const submit = async (): Promise<void> => {
    const found: IErrors = {};
    const nameError = validateEnvironmentName(name);
    if (nameError) {
      found.name = nameError;
    }
    const subfolderError = validateSubfolder(subfolder);
    if (subfolderError) {
      found.subfolder = subfolderError;
    }
    if (!root) {
      found.root = 'The server has no roots configured; set c.UvKernels.roots.';
    }
    const parsed = parseRequirements(packages);
    if (parsed.errors.length) {
      found.packages = parsed.errors.join(' ');
    }
    setErrors(found);
    if (Object.keys(found).length) {
      return;
    }
    setSubmitting(true);
    let tracked: ITrackedOperation;
    try {
      tracked = await models.actions.create({
        path: joinEnvironmentPath(root, subfolder, name),
        kind,
        python: python || null,
        packages: parsed.requirements
      });
    } catch (error) {
      // Refused (exists, outside the roots, no such Python…): said next to its field.
      const { message } = refusal(error);
      const where = fieldOfRefusal(message, subfolder);
      setErrors(where === 'form' ? { form: message } : { [where]: message });
      setSubmitting(false);
      return;
    }
    setSubmitting(false);
    setRunning(tracked);
    const done = await whenFinished(models.operations, tracked);
    setRunning(null);
    if (done.operation.state === 'succeeded') {
      props.onClose();
    } else if (done.operation.state === 'failed') {
      setErrors({
        form: `${done.label} failed: ${failureSummary(done)}`,
        formTitle: done.operation.message ?? undefined
      });
    } else {
      setErrors({ form: `${done.label} was cancelled; nothing was created.` });
    }
  };

  const field = (id: string, label: string, error: string | undefined, control: JSX.Element) => (
    <div className="jp-UvKernels-field">
      <label htmlFor={id} className="jp-UvKernels-label">
        {label}
      </label>
      {control}
      {error && <InlineError id={`${id}-error`} message={error} />}
    </div>
  );

  const preview = name.trim() && root ? joinEnvironmentPath(root, subfolder, name) : null;

  return (
    <form
      className="jp-UvKernels-create"
      aria-label="New environment"
      onSubmit={event => {
        event.preventDefault();
        void submit();
      }}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          props.onClose();
        }
      }}
    >
      <div className="jp-UvKernels-create-title">New environment</div>
      {field(
        'jp-UvKernels-create-root',
        'Root',
        errors.root,
        <select
          id="jp-UvKernels-create-root"
          className="jp-UvKernels-select"
          value={root}
          onChange={event => setRoot(event.target.value)}
        >
          {model.roots.map(r => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      )}
      {field(
        'jp-UvKernels-create-subfolder',
        'Subfolder (optional)',
        errors.subfolder,
        <input
          id="jp-UvKernels-create-subfolder"
          className="jp-UvKernels-input"
          type="text"
          aria-invalid={!!errors.subfolder}
          aria-describedby={errors.subfolder ? 'jp-UvKernels-create-subfolder-error' : undefined}
          placeholder="e.g. projects/2025"
          value={subfolder}
          spellCheck={false}
          onChange={event => {
            setSubfolder(event.target.value);
            setErrors(e => ({ ...e, subfolder: undefined }));
          }}
        />
      )}
      {field(
        'jp-UvKernels-create-name',
        'Environment name',
        errors.name,
        <input
          id="jp-UvKernels-create-name"
          ref={nameRef}
          className="jp-UvKernels-input"
          type="text"
          aria-invalid={!!errors.name}
          aria-describedby={errors.name ? 'jp-UvKernels-create-name-error' : undefined}
          placeholder="my-analysis"
          value={name}
          spellCheck={false}
          onChange={event => {
            setName(event.target.value);
            setErrors(e => ({ ...e, name: undefined }));
          }}
        />
      )}
      <fieldset className="jp-UvKernels-field jp-UvKernels-kind-choice">
        <legend className="jp-UvKernels-label">Kind</legend>
        <label title="uv init + uv add: pyproject.toml and uv.lock, reproducible">
          <input
            type="radio"
            name="jp-UvKernels-kind"
            value="project"
            checked={kind === 'project'}
            onChange={() => setKind('project')}
          />{' '}
          uv project
        </label>
        <label title="uv venv + uv pip install: a plain virtual environment">
          <input
            type="radio"
            name="jp-UvKernels-kind"
            value="venv"
            checked={kind === 'venv'}
            onChange={() => setKind('venv')}
          />{' '}
          venv
        </label>
      </fieldset>
      {field(
        'jp-UvKernels-create-python',
        'Python version',
        errors.python ?? pythonsError ?? undefined,
        <select
          id="jp-UvKernels-create-python"
          className="jp-UvKernels-select"
          aria-invalid={!!errors.python}
          aria-describedby={
            errors.python || pythonsError ? 'jp-UvKernels-create-python-error' : undefined
          }
          value={python}
          onChange={event => {
            setPython(event.target.value);
            setErrors(e => ({ ...e, python: undefined }));
          }}
        >
          <option value="">
            {pythons === null ? 'Default (loading list…)' : "Default (uv's choice)"}
          </option>
          {(pythons ?? []).map(p => (
            <option key={p.path} value={p.path} title={p.path}>
              {p.version} ({p.source}
              {p.implementation && p.implementation !== 'cpython' ? `, ${p.implementation}` : ''})
            </option>
          ))}
        </select>
      )}
      {field(
        'jp-UvKernels-create-packages',
        'Initial packages (optional; ipykernel is always added)',
        errors.packages,
        <textarea
          id="jp-UvKernels-create-packages"
          className="jp-UvKernels-input"
          aria-invalid={!!errors.packages}
          aria-describedby={errors.packages ? 'jp-UvKernels-create-packages-error' : undefined}
          placeholder="numpy xarray>=2024.1 netCDF4"
          rows={2}
          value={packages}
          spellCheck={false}
          onChange={event => {
            setPackages(event.target.value);
            setErrors(e => ({ ...e, packages: undefined }));
          }}
        />
      )}
      {preview && (
        <div className="jp-UvKernels-muted jp-UvKernels-preview" title={preview}>
          Creates {preview}
        </div>
      )}
      {running && (
        <div className="jp-UvKernels-muted jp-UvKernels-creating" role="status">
          Creating {running.operation.path}… uv&apos;s output is under Operations.
        </div>
      )}
      {errors.form && (
        <InlineError
          id="jp-UvKernels-create-error"
          message={errors.form}
          title={errors.formTitle}
        />
      )}
      <div className="jp-UvKernels-row jp-UvKernels-form-buttons">
        {running ? (
          <TextButton
            aria-label="Close the form (the create goes on)"
            title="The environment is still being created; follow it under Operations"
            onClick={props.onClose}
          >
            Close
          </TextButton>
        ) : (
          <TextButton aria-label="Cancel creating an environment" onClick={props.onClose}>
            Cancel
          </TextButton>
        )}
        <TextButton
          accept
          type="submit"
          aria-label={running ? undefined : 'Create the environment'}
          disabled={submitting || running !== null}
        >
          {running ? 'Creating…' : 'Create'}
        </TextButton>
      </div>
    </form>
  );
}
