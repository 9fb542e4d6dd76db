import * as React from 'react';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { IEnvironment, IEnvironmentsModel } from '../tokens';
import {
  IPanelHost,
  IPanelModels,
  lacksKernel,
  NoKernelMarker,
  ReadOnlyBadge,
  StatusBadge,
  useSignals
} from './common';
import { NewEnvironmentForm } from './NewEnvironmentForm';

interface IProps {
  models: IPanelModels;
  host: IPanelHost;
  /** The user setting: list venvs that uv did not make. */
  showPlainVenvs: boolean;
  showCreateForm: boolean;
  onCloseCreateForm: () => void;
}

/** Does the environment match every word of the filter? */
export function matchesFilter(env: IEnvironment, filter: string): boolean {
  const haystack = [
    env.name,
    env.relpath ?? '',
    env.path,
    env.kind,
    env.python ?? '',
    env.status,
    env.kernel ?? ''
  ]
    .join(' ')
    .toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every(word => haystack.includes(word));
}

/** A venv that uv did not make. */
function isPlainVenv(env: IEnvironment): boolean {
  return env.kind === 'venv' && !env.uv_managed;
}

function groupByRoot(
  envs: ReadonlyArray<IEnvironment>,
  roots: ReadonlyArray<string>
): [string, IEnvironment[]][] {
  const groups = new Map<string, IEnvironment[]>();
  for (const root of roots) {
    groups.set(root, []);
  }
  for (const env of envs) {
    const key = env.root ?? 'Outside the roots';
    if (!groups.has(key)) {
      groups.set(key, []);
    }
    groups.get(key)!.push(env);
  }
  for (const list of groups.values()) {
    list.sort((a, b) => (a.relpath ?? a.path).localeCompare(b.relpath ?? b.path));
  }
  return [...groups.entries()];
}

export function EnvironmentList(props: IProps): JSX.Element {
  const { models, host, showPlainVenvs } = props;
  const model = models.environments;
  useSignals(model.changed, models.operations.changed);
  const [filter, setFilter] = React.useState('');
  const [collapsedRoots, setCollapsedRoots] = React.useState<Set<string>>(new Set());

  const toggle = (set: Set<string>, key: string): Set<string> => {
    const next = new Set(set);
    if (next.has(key)) {
      next.delete(key);
    } else {
      next.add(key);
    }
    return next;
  };

  const visible = model.environments.filter(
    env => (showPlainVenvs || !isPlainVenv(env)) && matchesFilter(env, filter)
  );
  const hiddenPlain = showPlainVenvs ? 0 : model.environments.filter(isPlainVenv).length;
  const groups = groupByRoot(visible, model.roots);

  return (
    <div className="jp-UvKernels-environments">
      {props.showCreateForm && (
        <NewEnvironmentForm models={models} host={host} onClose={props.onCloseCreateForm} />
      )}
      <div className="jp-UvKernels-filter">
        <input
          type="search"
          className="jp-UvKernels-input"
          placeholder="Filter environments"
          title="Words to match in the name, path, kind, Python version or status"
          aria-label="Filter environments"
          value={filter}
          onChange={event => setFilter(event.target.value)}
        />
      </div>
      <ScanStatus model={model} shown={visible.length} hiddenPlain={hiddenPlain} />
      {groups.map(([root, envs]) => {
        const collapsed = collapsedRoots.has(root);
        return (
          <section className="jp-UvKernels-root" key={root} aria-label={`Environments in ${root}`}>
            <button
              type="button"
              className="jp-UvKernels-root-header"
              aria-expanded={!collapsed}
              title={`${root}: ${envs.length} environment${envs.length === 1 ? '' : 's'}`}
              onClick={() => setCollapsedRoots(toggle(collapsedRoots, root))}
            >
              {collapsed ? (
                <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
              ) : (
                <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
              )}
              {/* Marks keep the path left-to-right inside the right-to-left ellipsis. */}
              <span className="jp-UvKernels-root-path">{'\u200e' + root + '\u200e'}</span>
              <span className="jp-UvKernels-count">{envs.length}</span>
            </button>
            {!collapsed && (
              <ul className="jp-UvKernels-list">
                {envs.length === 0 && (
                  <li className="jp-UvKernels-muted jp-UvKernels-empty">
                    {filter ? 'No environment matches the filter.' : 'No environments found here.'}
                  </li>
                )}
                {envs.map(env => (
                  <EnvironmentItem key={env.id} env={env} models={models} host={host} />
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </div>
  );
}

/** A time of day as the status line shows it, or null for a missing or bad time. */
function timeOfDay(iso: string | null): string | null {
  if (!iso) {
    return null;
  }
  const when = new Date(iso);
  return isNaN(when.getTime()) ? null : when.toLocaleTimeString();
}

function ScanStatus(props: {
  model: IEnvironmentsModel;
  shown: number;
  hiddenPlain: number;
}): JSX.Element {
  const { model, shown, hiddenPlain } = props;
  const parts: string[] = [];
  const scanned = timeOfDay(model.scannedAt);
  const updated = timeOfDay(model.updatedAt);
  if (model.scannedAt) {
    parts.push(
      `${shown} environment${shown === 1 ? '' : 's'}` + (updated ? ` · updated ${updated}` : '')
    );
  }
  if (hiddenPlain) {
    parts.push(`${hiddenPlain} plain venv${hiddenPlain === 1 ? '' : 's'} hidden`);
  }
  const title =
    scanned && updated && scanned !== updated
      ? `Roots last scanned at ${scanned}; an operation updated the list at ${updated}.`
      : scanned
        ? `Roots last scanned at ${scanned}.`
        : undefined;
  return (
    <div className="jp-UvKernels-status" role="status" aria-live="polite">
      {model.scanning && <span className="jp-UvKernels-scanning">scanning…</span>}
      {model.partial && !model.scanning && (
        <span
          className="jp-UvKernels-partial"
          title="The last scan stopped early (time budget or depth limit); some environments may be missing."
        >
          partial
        </span>
      )}
      <span className="jp-UvKernels-muted jp-UvKernels-scan-time" title={title}>
        {parts.join(' · ')}
      </span>
      {model.error && <div className="jp-UvKernels-error">{model.error}</div>}
    </div>
  );
}

/** One environment of the list; clicking it opens its main-area view. */
function EnvironmentItem(props: {
  env: IEnvironment;
  models: IPanelModels;
  host: IPanelHost;
}): JSX.Element {
  const { env } = props;
  const running = props.models.operations.isBusy(env);
  return (
    <li className="jp-UvKernels-env" data-env-id={env.id} data-env-name={env.name}>
      <button
        type="button"
        className="jp-UvKernels-env-header"
        title={`Open ${env.name}: overview, dependencies, tree, updates and operations`}
        onClick={() => props.host.openEnvironment(env)}
      >
        <span className="jp-UvKernels-env-main">
          <span className="jp-UvKernels-env-title">
            <span className="jp-UvKernels-env-name">{env.name}</span>
            {running && <span className="jp-UvKernels-busy" title="An operation is running" />}
            <span className="jp-UvKernels-badges">
              <StatusBadge env={env} />
              {env.read_only && <ReadOnlyBadge />}
              {lacksKernel(env) && <NoKernelMarker />}
            </span>
          </span>
          <span className="jp-UvKernels-env-meta">
            <span className="jp-UvKernels-relpath" title={env.path}>
              {env.relpath ?? env.path}
            </span>
            <span className="jp-UvKernels-kind">{env.kind}</span>
            {env.python && <span className="jp-UvKernels-python">Python {env.python}</span>}
          </span>
        </span>
      </button>
    </li>
  );
}
