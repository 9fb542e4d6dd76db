/**
 * The main-area view of one environment: Overview and Dependencies (EnvironmentDetail,
 * with kind, Python and size added, and Upgrade and "Why?" on each package), the
 * dependency Tree, Updates (outdated packages) and this environment's Operations with
 * their live logs. The toolbar (Sync, Upgrade all, Export, Copy, Delete) is the widget's.
 */
import * as React from 'react';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { errorMessage, UvKernelsClient } from '../api';
import {
  IPanelHost,
  IPanelModels,
  lacksKernel,
  NoKernelMarker,
  ReadOnlyBadge,
  StatusBadge,
  TextButton,
  useSignals
} from '../components/common';
import { EnvironmentDetail } from '../components/EnvironmentDetail';
import { runWithInlineErrors } from '../components/RequirementsInput';
import { OperationList } from '../components/OperationList';
import { concerns } from '../operations';
import { IEnvironment, IPackage, ISizeReply, ITrackedOperation } from '../tokens';
import { describeSize } from './format';
import { OutdatedSection } from './OutdatedSection';
import { TreeSection } from './TreeSection';

export interface IViewProps {
  envId: string;
  models: IPanelModels;
  client: UvKernelsClient;
  host: IPanelHost;
}

/** A section whose body mounts when it is opened (so its data loads on demand). */
function Section(props: {
  id: string;
  title: string;
  open: boolean;
  onToggle: () => void;
  children: React.ReactNode;
  sectionRef?: React.Ref<HTMLElement>;
}): JSX.Element {
  const bodyId = `${props.id}-body`;
  return (
    <section
      ref={props.sectionRef}
      className="jp-UvKernels-view-section"
      data-section={props.title.toLowerCase()}
      aria-labelledby={props.id}
    >
      <h2 className="jp-UvKernels-view-heading">
        <button
          type="button"
          id={props.id}
          className="jp-UvKernels-section-toggle"
          aria-expanded={props.open}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          {props.open ? (
            <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
          ) : (
            <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
          )}
          {props.title}
        </button>
      </h2>
      {props.open && <div id={bodyId}>{props.children}</div>}
    </section>
  );
}

/** The disk use of the venv, measured by the server when the view opens. */
function SizeFact(props: {
  env: IEnvironment;
  client: UvKernelsClient;
  version: number;
}): JSX.Element {
  const { env, client, version } = props;
  const [size, setSize] = React.useState<ISizeReply | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (!env.venv) {
      return;
    }
    let live = true;
    client
      .size(env.id)
      .then(reply => {
        if (live) {
          setSize(reply);
          setError(null);
        }
      })
      .catch(e => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [client, env.id, env.venv, version]);
  let text: React.ReactNode;
  if (!env.venv) {
    text = <span className="jp-UvKernels-muted">no environment yet (Sync builds it)</span>;
  } else if (error) {
    text = <span className="jp-UvKernels-error">{error}</span>;
  } else if (!size) {
    text = <span className="jp-UvKernels-muted">measuring…</span>;
  } else {
    text = (
      <span
        data-complete={size.complete}
        title={
          `${size.path}: ${size.bytes.toLocaleString()} bytes, measured in ${size.seconds.toFixed(1)} s` +
          (size.complete ? '' : ' (the time budget ran out, so this is a lower bound)')
        }
      >
        {describeSize(size)}
      </span>
    );
  }
  return (
    <>
      <dt>Size</dt>
      <dd data-fact="size">{text}</dd>
    </>
  );
}

export function EnvironmentView(props: IViewProps): JSX.Element {
  const { envId, models, client, host } = props;
  const { environments, operations, actions } = models;
  useSignals(environments.changed, operations.changed);
  const [open, setOpen] = React.useState<Record<string, boolean>>({
    tree: false,
    updates: false,
    operations: true
  });
  const [why, setWhy] = React.useState<string | null>(null);
  const [version, setVersion] = React.useState(0);
  const [upgradeError, setUpgradeError] = React.useState<string | null>(null);
  const treeRef = React.useRef<HTMLElement>(null);
  const env = environments.environment(envId);

  // Everything read from the server is stale once an operation on this environment ends.
  React.useEffect(() => {
    const onFinished = (_: unknown, tracked: ITrackedOperation): void => {
      if (env && concerns(tracked.operation, env)) {
        setVersion(v => v + 1);
      }
    };
    operations.operationFinished.connect(onFinished);
    return () => {
      operations.operationFinished.disconnect(onFinished);
    };
  }, [operations, env?.id, env?.path]);

  React.useEffect(() => {
    if (why) {
      treeRef.current?.scrollIntoView?.({ block: 'start' });
    }
  }, [why]);

  if (!env) {
    return (
      <div className="jp-UvKernels-view jp-UvKernels-view-missing" data-env-id={envId}>
        {environments.loaded ? (
          <p>
            This environment is no longer under the roots: it was deleted or moved. Close this tab,
            or rescan the roots from the uv environments sidebar.
          </p>
        ) : (
          <p className="jp-UvKernels-muted">Loading the environments…</p>
        )}
      </div>
    );
  }

  const busy = operations.isBusy(env);
  const readOnly = !!env.read_only;
  const toggle = (key: string): void => setOpen(o => ({ ...o, [key]: !o[key] }));

  const upgrade = (packages: string[]): void => {
    void runWithInlineErrors(
      operations,
      () => actions.upgrade(env, packages),
      e => setUpgradeError(e ? e.message : null)
    );
  };
  const showWhy = (name: string | null): void => {
    setWhy(name);
    if (name) {
      setOpen(o => ({ ...o, tree: true }));
    }
  };

  const packageActions = (pkg: IPackage, removable: boolean): React.ReactNode => (
    <>
      {!readOnly && (removable || env.kind === 'venv') && !pkg.project && (
        <TextButton
          className="jp-UvKernels-upgrade"
          aria-label={`Upgrade ${pkg.name}`}
          title={
            env.kind === 'project'
              ? `uv lock --upgrade-package ${pkg.name}, within pyproject.toml's constraints`
              : `uv pip install --upgrade ${pkg.name}`
          }
          disabled={busy}
          onClick={() => upgrade([pkg.name])}
        >
          Upgrade
        </TextButton>
      )}
      <TextButton
        className="jp-UvKernels-why"
        aria-label={`Why? (what requires ${pkg.name})`}
        title={`Show what requires ${pkg.name}`}
        onClick={() => showWhy(pkg.name)}
      >
        Why?
      </TextButton>
    </>
  );

  const extraFacts = (
    <>
      <dt>Kind</dt>
      <dd data-fact="kind">
        {env.kind === 'project' ? 'uv project (pyproject.toml + uv.lock)' : 'venv'}
      </dd>
      <dt>Python</dt>
      <dd data-fact="python" title={env.interpreter ?? undefined}>
        {env.python ?? 'unknown'}
      </dd>
      {env.venv && env.venv !== env.path && (
        <>
          <dt>venv</dt>
          <dd title={env.venv}>{env.venv}</dd>
        </>
      )}
      <SizeFact env={env} client={client} version={version} />
      {readOnly && (
        <>
          <dt>Access</dt>
          <dd data-fact="read-only">read-only: copy it to change it</dd>
        </>
      )}
    </>
  );

  return (
    <div className="jp-UvKernels-view" data-env-id={env.id} data-env-name={env.name}>
      <header className="jp-UvKernels-view-header">
        <h1 className="jp-UvKernels-view-title">{env.name}</h1>
        <span className="jp-UvKernels-badges">
          <StatusBadge env={env} />
          {readOnly && <ReadOnlyBadge />}
          {lacksKernel(env) && <NoKernelMarker />}
          {busy && <span className="jp-UvKernels-busy" title="An operation is running" />}
        </span>
        <span className="jp-UvKernels-muted jp-UvKernels-view-path" title={env.path}>
          {env.relpath ?? env.path}
        </span>
      </header>
      {upgradeError && (
        <div className="jp-UvKernels-error" role="alert">
          {upgradeError}
        </div>
      )}
      <EnvironmentDetail
        env={env}
        models={models}
        host={host}
        extraFacts={extraFacts}
        packageActions={packageActions}
      />
      <Section
        id={`jp-UvKernels-tree-${env.id}`}
        title="Tree"
        open={open.tree}
        onToggle={() => toggle('tree')}
        sectionRef={treeRef}
      >
        <TreeSection env={env} client={client} why={why} version={version} onWhy={showWhy} />
      </Section>
      <Section
        id={`jp-UvKernels-updates-${env.id}`}
        title="Updates"
        open={open.updates}
        onToggle={() => toggle('updates')}
      >
        <OutdatedSection
          env={env}
          client={client}
          busy={busy}
          version={version}
          upgrade={upgrade}
        />
      </Section>
      <Section
        id={`jp-UvKernels-ops-${env.id}`}
        title="Operations"
        open={open.operations}
        onToggle={() => toggle('operations')}
      >
        <OperationList
          models={models}
          host={host}
          filter={op => concerns(op, env)}
          emptyText={`No operations on ${env.name} since this page loaded.`}
        />
      </Section>
    </div>
  );
}
