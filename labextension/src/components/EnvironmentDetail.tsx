import * as React from 'react';

import { errorMessage } from '../api';
import { FIX_LABELS, panelProblem } from '../problems';
import { IEnvironment, IEnvironmentDetails, IPackage, ITrackedOperation } from '../tokens';
import {
  InlineError,
  IPanelHost,
  IPanelModels,
  lacksKernel,
  refusal,
  TextButton,
  useSignals
} from './common';
import { IShownError, runWithInlineErrors } from './RequirementsInput';
import { limitPackages, PACKAGE_PAGE } from '../view/format';
import { Checks } from './Checks';
import { PackageList } from './PackageList';

/** The display name of the `uv-project` kernelspec. */
const PROJECT_KERNEL_LABEL = "Python (this folder's uv project)";

interface IProps {
  env: IEnvironment;
  models: IPanelModels;
  host: IPanelHost;
  /** More facts for the Overview (the main-area view adds kind, Python and size). */
  extraFacts?: React.ReactNode;
  /** More buttons on each package row (the view adds Upgrade and "Why?"). */
  packageActions?: (pkg: IPackage, removable: boolean) => React.ReactNode;
}

/**
 * One environment in the main-area view: its Overview (facts, actions, the lock check and
 * `uv pip check`) and its Dependencies (the Add box and the packages). A read-only
 * environment offers no action that would change it.
 */
export function EnvironmentDetail(props: IProps): JSX.Element {
  const { env, models, host } = props;
  const { environments, operations, actions } = models;
  const [details, setDetails] = React.useState<IEnvironmentDetails | null>(null);
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const [actionError, setActionError] = React.useState<IShownError | null>(null);
  const [packageFilter, setPackageFilter] = React.useState('');
  const [packageLimit, setPackageLimit] = React.useState(PACKAGE_PAGE);
  // "New notebook in project" appears once the uv-project kernelspec is known.
  useSignals(host.kernelspecsChanged, operations.changed);

  const load = React.useCallback(async () => {
    setLoading(true);
    try {
      setDetails(await environments.details(env.id));
      setLoadError(null);
    } catch (error) {
      setLoadError(errorMessage(error));
    } finally {
      setLoading(false);
    }
  }, [environments, env.id]);

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
    operations.operationFinished.connect(onFinished);
    return () => {
      operations.operationFinished.disconnect(onFinished);
    };
  }, [operations, env.id, load]);

  const busy = operations.isBusy(env);
  const readOnly = !!env.read_only;
  const problem = panelProblem(env);
  const noKernel = lacksKernel(env);

  const run = (start: () => Promise<ITrackedOperation>): void => {
    void runWithInlineErrors(operations, start, setActionError);
  };

  const unregister = async (): Promise<void> => {
    const ok = await host.confirm(
      `Unregister the kernel of ${env.name}?`,
      `The kernelspec ${env.kernel} is removed; the environment itself stays. ` +
        'Notebooks that use it will ask for another kernel.',
      'Unregister'
    );
    if (!ok) {
      return;
    }
    setActionError(null);
    try {
      await actions.unregisterKernel(env);
      host.notifySuccess(`Unregistered the kernel of ${env.name}.`);
    } catch (error) {
      setActionError({ message: refusal(error).message });
    }
  };

  // A long list (hundreds of packages) renders a page at a time, with a filter.
  const paged = (d: IEnvironmentDetails): ReturnType<typeof limitPackages<IPackage>> =>
    limitPackages(d.packages, packageFilter, packageLimit);
  const pagedDetails = (d: IEnvironmentDetails): IEnvironmentDetails =>
    d.packages.length > PACKAGE_PAGE ? { ...d, packages: paged(d).shown } : d;
  const pagingControls = (d: IEnvironmentDetails): JSX.Element => {
    const { matching, hidden } = paged(d);
    return (
      <div className="jp-UvKernels-row jp-UvKernels-paging">
        <input
          type="search"
          className="jp-UvKernels-input"
          placeholder={`Filter ${d.packages.length} packages`}
          aria-label={`Filter the packages of ${env.name}`}
          value={packageFilter}
          onChange={event => {
            setPackageFilter(event.target.value);
            setPackageLimit(PACKAGE_PAGE);
          }}
        />
        <span className="jp-UvKernels-muted jp-UvKernels-paging-count">
          {hidden > 0 ? `${matching - hidden} of ${matching} shown` : `${matching} shown`}
        </span>
        {hidden > 0 && (
          <TextButton
            aria-label={`Show ${Math.min(hidden, PACKAGE_PAGE)} more packages`}
            onClick={() => setPackageLimit(limit => limit + PACKAGE_PAGE)}
          >
            Show {Math.min(hidden, PACKAGE_PAGE)} more
          </TextButton>
        )}
      </div>
    );
  };

  const fileBrowserPath = host.fileBrowserPath(env);
  const inProject = host.canOpenInProject(env);
  const actionErrorId = `jp-UvKernels-action-error-${env.id}`;
  // The button that fixes the problem, or Register for a working env without a kernel, is
  // the primary one; otherwise a new notebook is.
  const primary = problem?.fix ?? (noKernel ? 'register' : null);

  const overviewId = `jp-UvKernels-overview-${env.id}`;
  const depsId = `jp-UvKernels-dependencies-${env.id}`;
  return (
    <div className="jp-UvKernels-detail" aria-busy={loading}>
      <h2 id={overviewId} className="jp-UvKernels-view-heading">
        Overview
      </h2>
      <dl className="jp-UvKernels-facts">
        <dt>Path</dt>
        <dd title={env.path}>{env.path}</dd>
        <dt>Kernel</dt>
        {env.kernel ? (
          <dd>{env.kernel}</dd>
        ) : (
          <dd className="jp-UvKernels-kernel-none">
            none{noKernel ? ': use Register kernel below to get one' : ''}
          </dd>
        )}
        {problem && (
          <>
            <dt>Problem</dt>
            <dd className="jp-UvKernels-problem" title={problem.original}>
              {problem.text}
            </dd>
          </>
        )}
        {props.extraFacts}
      </dl>

      <div
        className="jp-UvKernels-actions"
        role="group"
        aria-label={`Actions for ${env.name}`}
        aria-describedby={actionError ? actionErrorId : undefined}
      >
        {env.kind === 'project' && !readOnly && (
          <TextButton
            accept={primary === 'sync'}
            aria-label={`Sync ${env.name}`}
            title="uv sync --frozen: make the environment match uv.lock exactly"
            disabled={busy}
            onClick={() => run(() => actions.sync(env))}
          >
            {FIX_LABELS.sync}
          </TextButton>
        )}
        {env.kind === 'project' && primary === 'relock' && !readOnly && (
          <TextButton
            accept
            aria-label={`Relock and sync ${env.name}`}
            title="uv sync: update uv.lock to match pyproject.toml, then install"
            disabled={busy}
            onClick={() => run(() => actions.sync(env, { relock: true }))}
          >
            {FIX_LABELS.relock}
          </TextButton>
        )}
        {readOnly && !env.kernel ? null : env.kernel ? (
          <TextButton
            aria-label={`Unregister kernel of ${env.name}`}
            title="Remove the kernelspec (the environment stays)"
            onClick={() => void unregister()}
          >
            Unregister kernel
          </TextButton>
        ) : (
          <TextButton
            accept={primary === 'register'}
            aria-label={`${FIX_LABELS.register} for ${env.name}`}
            title="Install ipykernel if needed and write a kernelspec"
            disabled={busy || env.status === 'broken' || env.status === 'no-environment'}
            onClick={() => run(() => actions.registerKernel(env))}
          >
            {FIX_LABELS.register}
          </TextButton>
        )}
        {env.kernel && inProject && (
          <>
            <TextButton
              accept={primary === null}
              aria-label={`New notebook in project ${env.name}`}
              title={
                `Create a notebook in ${env.name}'s folder on the kernel "${PROJECT_KERNEL_LABEL}". ` +
                'It runs the uv project the notebook is in, so the saved notebook opens in ' +
                'any clone of the project, at any path.'
              }
              onClick={() => void host.openNotebook(env, { inProject: true })}
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
              onClick={() => void host.openNotebook(env)}
            >
              New notebook on this kernel
            </TextButton>
          </>
        )}
        {env.kernel && !inProject && (
          <TextButton
            accept={primary === null}
            aria-label={`New notebook with the ${env.name} kernel`}
            title={`Create a notebook on the kernel of this environment (${env.kernel})`}
            onClick={() => void host.openNotebook(env)}
          >
            New notebook
          </TextButton>
        )}
        {fileBrowserPath !== null && (
          <TextButton
            aria-label={`Show in file browser (${env.name})`}
            title={`Show ${fileBrowserPath || 'the server root'} in the file browser`}
            onClick={() => void host.showInFileBrowser(env)}
          >
            Show in file browser
          </TextButton>
        )}
      </div>
      {actionError && (
        <InlineError id={actionErrorId} message={actionError.message} title={actionError.title} />
      )}
      {details && <Checks details={details} />}
      <h2 id={depsId} className="jp-UvKernels-view-heading">
        Dependencies
      </h2>

      {loadError && (
        <div className="jp-UvKernels-error" role="alert">
          {loadError}
        </div>
      )}
      {loading && !details && <div className="jp-UvKernels-muted">Checking the environment…</div>}
      {details && (
        <PackageList
          env={env}
          details={pagedDetails(details)}
          models={models}
          host={host}
          rowActions={props.packageActions}
        />
      )}
      {details && details.packages.length > PACKAGE_PAGE && pagingControls(details)}
    </div>
  );
}
