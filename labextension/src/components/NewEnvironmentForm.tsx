import * as React from 'react';

import { errorMessage } from '../api';
import { failureSummary } from '../operations';
import { EnvironmentKind, ICreateRequest, IIndex, IPython, ITrackedOperation } from '../tokens';
import {
  fieldOfRefusal,
  joinEnvironmentPath,
  parseRequirements,
  validateEnvironmentName,
  validateRequirementsFile,
  validateSubfolder
} from '../validate';
import { InlineError, IPanelHost, IPanelModels, refusal, TextButton, whenFinished } from './common';
import { IndexSelect } from './IndexSelect';
import { folderOf, pickRootFile } from './RootFilePicker';

interface IProps {
  models: IPanelModels;
  host: IPanelHost;
  onClose: () => void;
}

interface IErrors {
  name?: string;
  subfolder?: string;
  packages?: string;
  requirements?: string;
  index?: string;
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
  const [requirementsFile, setRequirementsFile] = React.useState('');
  const [index, setIndex] = React.useState('');
  /** The configured indexes (GET indexes); the Index field shows only when there are some. */
  const [indexes, setIndexes] = React.useState<IIndex[]>([]);
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
    // An older server has no GET indexes: then there is simply no Index field.
    model
      .indexes()
      .then(list => !cancelled && setIndexes(list))
      .catch(() => undefined);
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
    const requirementsError = validateRequirementsFile(requirementsFile);
    if (requirementsError) {
      found.requirements = requirementsError;
    }
    if (index && !parsed.requirements.length && !requirementsFile.trim() && !parsed.errors.length) {
      found.index =
        'An index says where packages come from: give packages or a requirements file, ' +
        'or choose "Default index".';
    }
    setErrors(found);
    if (Object.keys(found).length) {
      return;
    }
    setSubmitting(true);
    const request: ICreateRequest = {
      path: joinEnvironmentPath(root, subfolder, name),
      kind,
      python: python || null,
      packages: parsed.requirements
    };
    // Sent only when set, so an older server (without these fields) still creates.
    if (requirementsFile.trim()) {
      request.requirements_file = requirementsFile.trim();
    }
    if (index) {
      request.index = index;
    }
    let tracked: ITrackedOperation;
    try {
      tracked = await models.actions.create(request);
    } catch (error) {
      // Refused (exists, outside the roots, no such Python, an option line in the
      // requirements file, an unknown index…): said next to its field.
      const { message } = refusal(error);
      const where = fieldOfRefusal(message, subfolder, {
        requirementsFile: request.requirements_file ?? undefined,
        index: request.index ?? undefined
      });
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

  const browse = async (): Promise<void> => {
    const chosen = await pickRootFile({
      list: path => model.files(path),
      start: requirementsFile.trim() ? folderOf(requirementsFile) : root || null,
      title: 'Install from a requirements file'
    });
    if (chosen) {
      setRequirementsFile(chosen);
      setErrors(e => ({ ...e, requirements: undefined }));
    }
  };

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
      {field(
        'jp-UvKernels-create-requirements',
        'Requirements file (optional)',
        errors.requirements,
        <div className="jp-UvKernels-row">
          <input
            id="jp-UvKernels-create-requirements"
            className="jp-UvKernels-input"
            type="text"
            aria-invalid={!!errors.requirements}
            aria-describedby={
              errors.requirements ? 'jp-UvKernels-create-requirements-error' : undefined
            }
            title={
              kind === 'project'
                ? 'uv add -r FILE: its requirements go into pyproject.toml'
                : 'uv pip install -r FILE'
            }
            placeholder="/path/to/requirements.txt"
            value={requirementsFile}
            spellCheck={false}
            onChange={event => {
              setRequirementsFile(event.target.value);
              setErrors(e => ({ ...e, requirements: undefined }));
            }}
          />
          <TextButton
            title="Choose a requirements file inside the roots"
            disabled={running !== null}
            onClick={() => void browse()}
          >
            Browse…
          </TextButton>
        </div>
      )}
      {indexes.length > 0 &&
        field(
          'jp-UvKernels-create-index',
          'Index',
          errors.index,
          <IndexSelect
            id="jp-UvKernels-create-index"
            indexes={indexes}
            value={index}
            invalid={!!errors.index}
            describedBy={errors.index ? 'jp-UvKernels-create-index-error' : undefined}
            onChange={value => {
              setIndex(value);
              setErrors(e => ({ ...e, index: undefined }));
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
