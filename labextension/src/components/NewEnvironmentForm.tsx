import * as React from 'react';

import { errorMessage } from '../api';
import { EnvironmentKind, IPython, IUvKernelsModel } from '../tokens';
import {
  joinEnvironmentPath,
  parseRequirements,
  validateEnvironmentName,
  validateSubfolder
} from '../validate';
import { IPanelActions, TextButton } from './common';

interface IProps {
  model: IUvKernelsModel;
  actions: IPanelActions;
  onClose: () => void;
}

interface IErrors {
  name?: string;
  subfolder?: string;
  packages?: string;
  root?: string;
}

/** "New environment": where, what kind, which Python, which packages. */
export function NewEnvironmentForm(props: IProps): JSX.Element {
  const { model, actions } = props;
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
  const nameRef = React.useRef<HTMLInputElement>(null);

  React.useEffect(() => {
    nameRef.current?.focus();
    let cancelled = false;
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
    const started = await actions.runOperation(() =>
      model.create({
        path: joinEnvironmentPath(root, subfolder, name),
        kind,
        python: python || null,
        packages: parsed.requirements
      })
    );
    setSubmitting(false);
    if (started) {
      props.onClose();
    }
  };

  const field = (id: string, label: string, error: string | undefined, control: JSX.Element) => (
    <div className="jp-UvKernels-field">
      <label htmlFor={id} className="jp-UvKernels-label">
        {label}
      </label>
      {control}
      {error && (
        <div id={`${id}-error`} className="jp-UvKernels-error" role="alert">
          {error}
        </div>
      )}
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
          aria-label="Root"
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
          aria-label="Subfolder"
          aria-invalid={!!errors.subfolder}
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
        'Name',
        errors.name,
        <input
          id="jp-UvKernels-create-name"
          ref={nameRef}
          className="jp-UvKernels-input"
          type="text"
          aria-label="Environment name"
          aria-invalid={!!errors.name}
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
            aria-label="uv project"
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
            aria-label="venv"
            checked={kind === 'venv'}
            onChange={() => setKind('venv')}
          />{' '}
          venv
        </label>
      </fieldset>
      {field(
        'jp-UvKernels-create-python',
        'Python',
        pythonsError ?? undefined,
        <select
          id="jp-UvKernels-create-python"
          className="jp-UvKernels-select"
          aria-label="Python version"
          value={python}
          onChange={event => setPython(event.target.value)}
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
        'Packages (optional; ipykernel is always added)',
        errors.packages,
        <textarea
          id="jp-UvKernels-create-packages"
          className="jp-UvKernels-input"
          aria-label="Initial packages"
          aria-invalid={!!errors.packages}
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
      <div className="jp-UvKernels-row jp-UvKernels-form-buttons">
        <TextButton aria-label="Cancel creating an environment" onClick={props.onClose}>
          Cancel
        </TextButton>
        <TextButton accept type="submit" aria-label="Create the environment" disabled={submitting}>
          Create
        </TextButton>
      </div>
    </form>
  );
}
