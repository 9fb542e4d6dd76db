import * as React from 'react';
import {
  caretDownIcon,
  caretRightIcon,
  closeIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';

import { failureSummary } from '../operations';
import { IEnvironment, IEnvironmentDetails, IIndex, IPackage } from '../tokens';
import { AddPackagesBox } from './AddPackagesBox';
import { InlineError, IPanelHost, IPanelModels, refusal, TextButton, whenFinished } from './common';

/** A removal that did not happen, shown under the package it concerns. */
interface IRemoveError {
  name: string;
  message: string;
  title?: string;
  /** A venv refused because other packages need it: offer "Remove anyway". */
  canForce: boolean;
}

/** Where pyproject.toml asks for a package, as a short tag and a tooltip. */
export function groupTag(group: string): { label: string; title: string } {
  if (group === 'project') {
    return { label: 'main', title: 'In [project] dependencies of pyproject.toml' };
  }
  if (group.startsWith('extra:')) {
    const extra = group.slice('extra:'.length);
    return {
      label: `extra ${extra}`,
      title: `In the optional dependencies (extra "${extra}") of pyproject.toml`
    };
  }
  return { label: group, title: `In the dependency group "${group}" of pyproject.toml` };
}

/** Main dependencies first, then dev, then other groups and extras; by name within. */
function groupRank(pkg: IPackage): number {
  const groups = pkg.groups ?? [];
  if (groups.includes('project')) {
    return 0;
  }
  if (groups.includes('dev')) {
    return 1;
  }
  return groups.some(g => !g.startsWith('extra:')) ? 2 : 3;
}

const byName = (a: IPackage, b: IPackage): number => a.name.localeCompare(b.name);

/** The server's venv refusal names the API's force=true; the panel has a button for it. */
function panelWording(message: string): string {
  return message.replace(
    /,?\s*or repeat the request with force=true\.?/i,
    ', or use Remove anyway.'
  );
}

/**
 * The Add box (typed requirements, a requirements file, an index) and the installed
 * packages. In a project, its direct dependencies (named in pyproject.toml)
 * come first, tagged by group, and only they can be removed; the rest are folded away.
 * In a venv every package can be removed.
 */
export function PackageList(props: {
  /** Show the Add box above the list (default true). */
  addBox?: boolean;
  /** The indexes the Add box offers (default: the details' `indexes`). */
  indexes?: ReadonlyArray<IIndex>;
  env: IEnvironment;
  details: IEnvironmentDetails;
  models: IPanelModels;
  host: IPanelHost;
  /** More buttons at the end of each row (the main-area view: Upgrade, "Why?"). */
  rowActions?: (pkg: IPackage, removable: boolean) => React.ReactNode;
}): JSX.Element {
  const { env, details, models, host } = props;
  const addBox = props.addBox !== false && (
    <AddPackagesBox env={env} models={models} indexes={props.indexes ?? details.indexes ?? []} />
  );
  const [error, setError] = React.useState<IRemoveError | null>(null);
  const [showOthers, setShowOthers] = React.useState(false);
  const busy = models.operations.isBusy(env);
  const annotated = env.kind === 'project' && details.packages.some(p => p.direct !== undefined);

  const remove = async (name: string, force = false): Promise<void> => {
    if (!force) {
      const ok = await host.confirm(
        `Remove ${name}?`,
        `Remove ${name} from ${env.name}` +
          (env.kind === 'project'
            ? ' (uv remove; pyproject.toml and uv.lock change).'
            : ' (uv pip uninstall).'),
        'Remove'
      );
      if (!ok) {
        return;
      }
    }
    setError(null);
    try {
      const tracked = await models.actions.removePackage(env, name, { force });
      const done = await whenFinished(models.operations, tracked);
      if (done.operation.state === 'failed') {
        setError({
          name,
          message: `${done.label} failed: ${failureSummary(done)}`,
          title: done.operation.message ?? undefined,
          canForce: false
        });
      }
    } catch (e) {
      const { message, status } = refusal(e);
      const canForce = env.kind === 'venv' && status === 409 && /force=true/.test(message);
      setError({ name, message: panelWording(message), title: message, canForce });
    }
  };

  const row = (pkg: IPackage, removable: boolean): JSX.Element => (
    <React.Fragment key={pkg.name}>
      <li className="jp-UvKernels-package" data-package={pkg.name}>
        <span className="jp-UvKernels-package-name">{pkg.name}</span>
        {annotated &&
          (pkg.groups ?? []).map(group => {
            const tag = groupTag(group);
            return (
              <span key={group} className="jp-UvKernels-tag" data-group={group} title={tag.title}>
                {tag.label}
              </span>
            );
          })}
        {pkg.project && (
          <span
            className="jp-UvKernels-tag"
            data-group=":project"
            title="The project's own package"
          >
            this project
          </span>
        )}
        <span className="jp-UvKernels-package-version">{pkg.version}</span>
        {props.rowActions?.(pkg, removable)}
        {removable && !env.read_only && (
          <ToolbarButtonComponent
            className="jp-UvKernels-remove"
            icon={closeIcon}
            tooltip={`Remove ${pkg.name}`}
            enabled={!busy}
            onClick={() => void remove(pkg.name)}
          />
        )}
      </li>
      {error && error.name === pkg.name && (
        <li className="jp-UvKernels-package-error">
          <InlineError message={error.message} title={error.title}>
            {error.canForce && (
              <TextButton warn disabled={busy} onClick={() => void remove(pkg.name, true)}>
                Remove anyway
              </TextButton>
            )}
            <TextButton onClick={() => setError(null)}>Dismiss</TextButton>
          </InlineError>
        </li>
      )}
    </React.Fragment>
  );

  const packagesError = details.packages_error && (
    <div className="jp-UvKernels-error" role="alert">
      {details.packages_error}
    </div>
  );

  if (!annotated) {
    const packages = [...details.packages].sort(byName);
    return (
      <div className="jp-UvKernels-packages">
        {addBox}
        <div className="jp-UvKernels-label">Installed packages ({packages.length})</div>
        {packagesError}
        <ul aria-label={`Packages installed in ${env.name}`}>
          {packages.map(pkg => row(pkg, !pkg.project))}
        </ul>
      </div>
    );
  }

  const direct = details.packages
    .filter(p => p.direct && !p.project)
    .sort((a, b) => groupRank(a) - groupRank(b) || byName(a, b));
  const others = details.packages.filter(p => !p.direct || p.project).sort(byName);
  const othersId = `jp-UvKernels-others-${env.id}`;
  return (
    <div className="jp-UvKernels-packages">
      {addBox}
      <div
        className="jp-UvKernels-label"
        title="Named in pyproject.toml; only these can be removed"
      >
        Direct dependencies ({direct.length})
      </div>
      {packagesError}
      <ul className="jp-UvKernels-direct" aria-label={`Direct dependencies of ${env.name}`}>
        {direct.length === 0 && (
          <li className="jp-UvKernels-muted jp-UvKernels-package">
            None: pyproject.toml names no dependencies.
          </li>
        )}
        {direct.map(pkg => row(pkg, true))}
      </ul>
      <button
        type="button"
        className="jp-UvKernels-others-toggle"
        aria-expanded={showOthers}
        aria-controls={othersId}
        title="Installed because a direct dependency needs them; remove the direct dependency instead"
        onClick={() => setShowOthers(!showOthers)}
      >
        {showOthers ? (
          <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
        ) : (
          <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
        )}
        Other installed packages ({others.length})
      </button>
      {showOthers && (
        <ul
          id={othersId}
          className="jp-UvKernels-others"
          aria-label={`Other packages installed in ${env.name}`}
        >
          {others.map(pkg => row(pkg, false))}
        </ul>
      )}
    </div>
  );
}
