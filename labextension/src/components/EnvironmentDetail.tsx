import * as React from 'react';
import { closeIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';

import { errorMessage } from '../api';
import { IEnvironment, IEnvironmentDetails, ITrackedOperation, IUvKernelsModel } from '../tokens';
import { parseRequirements } from '../validate';
import { IPanelActions, TextButton, useSignals } from './common';

/** The display name of the `uv-project` kernelspec. */
const PROJECT_KERNEL_LABEL = "Python (this folder's uv project)";

interface IProps {
  env: IEnvironment;
  model: IUvKernelsModel;
  actions: IPanelActions;
}

/** The expanded part of one environment: actions, packages, drift and `uv pip check`. */
export function EnvironmentDetail(props: IProps): JSX.Element {
  const { env, model, actions } = props;
  const [details, setDetails] = React.useState<IEnvironmentDetails | null>(null);
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const [packagesText, setPackagesText] = React.useState('');
  const [inputError, setInputError] = React.useState<string | null>(null);
  // "New notebook in project" appears once the uv-project kernelspec is known.
  useSignals(actions.kernelspecsChanged);

  const load = React.useCallback(async () => {
    setLoading(true);
    try {
      setDetails(await model.details(env.id));
      setLoadError(null);
    } catch (error) {
      setLoadError(errorMessage(error));
    } finally {
      setLoading(false);
    }
  }, [model, env.id]);

  React.useEffect(() => {
    void load();
  }, [load]);

  // Re-read the details when an operation on this environment ends.
  React.useEffect(() => {
    const onFinished = (_: unknown, tracked: ITrackedOperation): void => {
      if (tracked.operation.env_id === env.id || tracked.operation.environment?.id === env.id) {
        void load();
      }
    };
    model.operationFinished.connect(onFinished);
    return () => {
      model.operationFinished.disconnect(onFinished);
    };
  }, [model, env.id, load]);

  const busy = model.operations.some(
    t => !t.finished && (t.operation.env_id === env.id || t.operation.path === env.path)
  );

  const addPackages = async (): Promise<void> => {
    const parsed = parseRequirements(packagesText);
    if (parsed.errors.length) {
      setInputError(parsed.errors.join(' '));
      return;
    }
    if (!parsed.requirements.length) {
      setInputError('Type one or more requirements, e.g. numpy xarray>=2024.1');
      return;
    }
    setInputError(null);
    if (await actions.runOperation(() => model.addPackages(env, parsed.requirements))) {
      setPackagesText('');
    }
  };

  const removePackage = async (name: string): Promise<void> => {
    const ok = await actions.confirm(
      `Remove ${name}?`,
      `Remove ${name} from ${env.name}` +
        (env.kind === 'project'
          ? ' (uv remove; pyproject.toml and uv.lock change).'
          : ' (uv pip uninstall).'),
      'Remove'
    );
    if (ok) {
      await actions.runOperation(() => model.removePackage(env, name));
    }
  };

  const fileBrowserPath = actions.fileBrowserPath(env);
  const inProject = actions.canOpenInProject(env);
  const inputId = `jp-UvKernels-add-${env.id}`;
  const errorId = `${inputId}-error`;

  return (
    <div className="jp-UvKernels-detail" aria-busy={loading}>
      <dl className="jp-UvKernels-facts">
        <dt>Path</dt>
        <dd title={env.path}>{env.path}</dd>
        {env.kernel && (
          <>
            <dt>Kernel</dt>
            <dd>{env.kernel}</dd>
          </>
        )}
        {env.problem && (
          <>
            <dt>Problem</dt>
            <dd className="jp-UvKernels-problem">{env.problem}</dd>
          </>
        )}
      </dl>

      <div className="jp-UvKernels-actions" role="group" aria-label={`Actions for ${env.name}`}>
        {env.kind === 'project' && (
          <TextButton
            aria-label={`Sync ${env.name}`}
            title="uv sync: make the environment match uv.lock"
            disabled={busy}
            onClick={() => void actions.runOperation(() => model.sync(env))}
          >
            Sync
          </TextButton>
        )}
        {env.kernel ? (
          <TextButton
            aria-label={`Unregister the kernel of ${env.name}`}
            title="Remove the kernelspec (the environment stays)"
            onClick={() => void actions.unregisterKernel(env)}
          >
            Unregister kernel
          </TextButton>
        ) : (
          <TextButton
            aria-label={`Register a kernel for ${env.name}`}
            title="Install ipykernel if needed and write a kernelspec"
            disabled={busy || env.status === 'broken' || env.status === 'no-environment'}
            onClick={() => void actions.runOperation(() => model.registerKernel(env))}
          >
            Register kernel
          </TextButton>
        )}
        {env.kernel && inProject && (
          <>
            <TextButton
              accept
              aria-label={`New notebook in project ${env.name}`}
              title={
                `Create a notebook in ${env.name}'s folder on the kernel "${PROJECT_KERNEL_LABEL}". ` +
                'It runs the uv project the notebook is in, so the saved notebook opens in ' +
                'any clone of the project, at any path.'
              }
              onClick={() => void actions.openNotebook(env, { inProject: true })}
            >
              New notebook in project
            </TextButton>
            <TextButton
              aria-label={`New notebook on this kernel (${env.name})`}
              title={
                `Create a notebook on this environment's own kernel (${env.kernel}), for ` +
                'notebooks kept outside the project. A clone at another path has another ' +
                'kernel name, so there the notebook asks for a kernel.'
              }
              onClick={() => void actions.openNotebook(env)}
            >
              New notebook on this kernel
            </TextButton>
          </>
        )}
        {env.kernel && !inProject && (
          <TextButton
            accept
            aria-label={`New notebook with the ${env.name} kernel`}
            title={`Create a notebook on the kernel of this environment (${env.kernel})`}
            onClick={() => void actions.openNotebook(env)}
          >
            New notebook
          </TextButton>
        )}
        {fileBrowserPath !== null && (
          <TextButton
            aria-label={`Show ${env.name} in the file browser`}
            onClick={() => void actions.showInFileBrowser(env)}
          >
            Show in file browser
          </TextButton>
        )}
      </div>

      {env.venv && env.status !== 'broken' && (
        <form
          className="jp-UvKernels-add"
          onSubmit={event => {
            event.preventDefault();
            void addPackages();
          }}
        >
          <label htmlFor={inputId} className="jp-UvKernels-label">
            Add packages
          </label>
          <div className="jp-UvKernels-row">
            <input
              id={inputId}
              className="jp-UvKernels-input"
              type="text"
              value={packagesText}
              placeholder="numpy xarray>=2024.1"
              aria-label={`Packages to add to ${env.name}`}
              aria-invalid={inputError !== null}
              aria-describedby={inputError ? errorId : undefined}
              spellCheck={false}
              onChange={event => {
                setPackagesText(event.target.value);
                setInputError(null);
              }}
            />
            <TextButton
              accept
              type="submit"
              aria-label={`Add the packages to ${env.name}`}
              disabled={busy || !packagesText.trim()}
            >
              Add
            </TextButton>
          </div>
          {inputError && (
            <div id={errorId} className="jp-UvKernels-error" role="alert">
              {inputError}
            </div>
          )}
        </form>
      )}

      {loadError && (
        <div className="jp-UvKernels-error" role="alert">
          {loadError}
        </div>
      )}
      {loading && !details && <div className="jp-UvKernels-muted">Checking the environment…</div>}
      {details && <Checks details={details} />}
      {details && (
        <PackageList
          env={env}
          details={details}
          busy={busy}
          onRemove={name => void removePackage(name)}
        />
      )}
    </div>
  );
}

function Checks(props: { details: IEnvironmentDetails }): JSX.Element {
  const { drift, pip_check } = props.details;
  return (
    <div className="jp-UvKernels-checks">
      {drift && (
        <div className="jp-UvKernels-check" data-check="drift">
          <span className="jp-UvKernels-label">Lock file</span>{' '}
          {!drift.checked ? (
            <span className="jp-UvKernels-muted">{drift.output || 'not checked'}</span>
          ) : drift.in_sync ? (
            <span className="jp-UvKernels-ok">in sync with uv.lock</span>
          ) : (
            <span className="jp-UvKernels-warn">out of sync with uv.lock</span>
          )}
          {drift.checked && !drift.in_sync && drift.output && (
            <pre className="jp-UvKernels-output">{drift.output}</pre>
          )}
        </div>
      )}
      {pip_check && (
        <div className="jp-UvKernels-check" data-check="pip-check">
          <span className="jp-UvKernels-label">uv pip check</span>{' '}
          {pip_check.ok ? (
            <span className="jp-UvKernels-ok">no conflicts</span>
          ) : (
            <span className="jp-UvKernels-warn">problems found</span>
          )}
          {!pip_check.ok && pip_check.output && (
            <pre className="jp-UvKernels-output">{pip_check.output}</pre>
          )}
        </div>
      )}
    </div>
  );
}

function PackageList(props: {
  env: IEnvironment;
  details: IEnvironmentDetails;
  busy: boolean;
  onRemove: (name: string) => void;
}): JSX.Element {
  const { env, details, busy, onRemove } = props;
  const packages = [...details.packages].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="jp-UvKernels-packages">
      <div className="jp-UvKernels-label">Installed packages ({packages.length})</div>
      {details.packages_error && (
        <div className="jp-UvKernels-error" role="alert">
          {details.packages_error}
        </div>
      )}
      <ul aria-label={`Packages installed in ${env.name}`}>
        {packages.map(pkg => (
          <li key={pkg.name} className="jp-UvKernels-package">
            <span className="jp-UvKernels-package-name">{pkg.name}</span>
            <span className="jp-UvKernels-package-version">{pkg.version}</span>
            <ToolbarButtonComponent
              className="jp-UvKernels-remove"
              icon={closeIcon}
              tooltip={`Remove ${pkg.name}`}
              enabled={!busy}
              onClick={() => onRemove(pkg.name)}
            />
          </li>
        ))}
      </ul>
    </div>
  );
}
