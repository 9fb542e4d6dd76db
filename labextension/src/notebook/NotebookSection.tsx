/**
 * The view of the "This notebook" section: the open notebook's inline dependencies (PEP
 * 723, juv's format), the one-click switch to the uv-script kernel, and the edits.
 */
import * as React from 'react';

import { InlineError, TextButton, useSignals } from '../components/common';
import {
  IShownError,
  RequirementsInput,
  runWithInlineErrors,
  sendTyped
} from '../components/RequirementsInput';
import { IEnvironment, IOperationsModel, ITrackedOperation } from '../tokens';
import { OutdatedSection } from '../view/OutdatedSection';
import { TreeSection } from '../view/TreeSection';
import { NotebookViewClient } from './api';
import { fileName, lockState, offersOneClick, summary } from './format';
import { NotebookDepsModel } from './model';

/** What the section asks of JupyterLab (dialogs, the kernel switch). */
export interface INotebookSectionActions {
  /** Switch the current notebook's kernel to uv-script. */
  useOwnDependencies(): Promise<void>;
  /** Ask where from, then make the notebook self-contained. */
  makeSelfContained(): Promise<void>;
  /** Confirm, then turn the notebook into a project. */
  toProject(): Promise<void>;
  confirm(title: string, body: string, acceptLabel: string): Promise<boolean>;
}

type Tab = 'dependencies' | 'tree' | 'updates';

/** The notebook as the Updates section's "environment" (it reads by id, here the path). */
function asEnvironment(path: string): IEnvironment {
  return {
    id: path,
    name: fileName(path),
    path,
    kind: 'project',
    venv: null,
    python: null,
    has_ipykernel: true,
    status: 'ready',
    kernel: null,
    problem: null,
    root: null,
    relpath: null,
    interpreter: null,
    uv_managed: true,
    workspace_members: []
  };
}

export function NotebookSection(props: {
  model: NotebookDepsModel;
  operations: IOperationsModel;
  viewClient: NotebookViewClient;
  actions: INotebookSectionActions;
}): JSX.Element {
  const { model, operations, viewClient, actions } = props;
  useSignals(model.changed, operations.operationChanged);
  const [text, setText] = React.useState('');
  const [error, setError] = React.useState<IShownError | null>(null);
  const [tab, setTab] = React.useState<Tab>('dependencies');
  const [why, setWhy] = React.useState<string | null>(null);
  const path = model.path;

  // Another notebook: start over.
  React.useEffect(() => {
    setError(null);
    setTab('dependencies');
    setWhy(null);
  }, [path]);

  if (path === null) {
    return (
      <div className="jp-UvKernels-notebook jp-UvKernels-muted" data-notebook="none">
        Open a notebook to see and edit the dependencies it carries (PEP 723, as juv writes them).
      </div>
    );
  }
  const deps = model.dependencies;
  const busy = model.busy;
  const name = fileName(path);

  const run = async (start: () => Promise<ITrackedOperation>): Promise<boolean> => {
    const done = await runWithInlineErrors(operations, start, setError);
    return done?.operation.state === 'succeeded';
  };

  const addTyped = (): Promise<void> =>
    sendTyped(text, packages => run(() => model.add(packages)), setError, setText);

  const remove = async (dep: string): Promise<void> => {
    const ok = await actions.confirm(
      `Remove ${dep} from ${name}?`,
      `uv remove --script takes ${dep} out of the notebook's dependencies${deps?.locked ? ' and relocks them' : ''}.`,
      'Remove'
    );
    if (ok) {
      await run(() => model.remove(dep));
    }
  };

  const problem = deps?.problem ?? null;
  const canEdit = !!deps && !problem;
  const inputId = 'jp-UvKernels-notebook-add';
  const errorId = `${inputId}-error`;

  return (
    <div
      className="jp-UvKernels-notebook"
      data-notebook={path}
      data-self-contained={deps ? String(deps.self_contained) : undefined}
      aria-busy={model.loading || busy}
    >
      <div className="jp-UvKernels-notebook-title" title={deps?.path ?? path}>
        {name}
      </div>
      {model.error && (
        <div className="jp-UvKernels-error" role="alert">
          {model.error}
        </div>
      )}
      {!deps && !model.error && <div className="jp-UvKernels-muted">Reading the notebook…</div>}
      {deps && (
        <div className="jp-UvKernels-muted jp-UvKernels-notebook-summary" data-summary>
          {summary(deps)}
        </div>
      )}
      {problem && (
        <div className="jp-UvKernels-warn" role="status" data-notebook-problem>
          {problem}
        </div>
      )}
      {offersOneClick(deps, model.kernelName) && (
        <div className="jp-UvKernels-notebook-oneclick">
          <TextButton
            accept
            className="jp-UvKernels-oneclick"
            title="Switch this notebook's kernel to “Python (notebook's inline dependencies)”: uv builds an environment from the dependencies above (once, then it is cached) and the kernel starts there."
            onClick={() => void actions.useOwnDependencies()}
          >
            Use this notebook's dependencies
          </TextButton>
          <div className="jp-UvKernels-muted">
            The kernel is {model.kernelName ?? 'not chosen yet'}; this notebook carries its own
            dependencies.
          </div>
        </div>
      )}
      {deps?.self_contained && !problem && model.kernelName === deps.kernel && (
        <div className="jp-UvKernels-ok" data-runs-on="uv-script">
          Runs on its own dependencies.
        </div>
      )}
      {deps?.self_contained && (
        <div className="jp-UvKernels-row jp-UvKernels-notebook-tabs" role="group">
          {(['dependencies', 'tree', 'updates'] as Tab[]).map(t => (
            <TextButton
              key={t}
              aria-pressed={tab === t}
              className={tab === t ? 'jp-mod-active' : ''}
              onClick={() => setTab(t)}
            >
              {t === 'dependencies' ? 'Dependencies' : t === 'tree' ? 'Tree' : 'Updates'}
            </TextButton>
          ))}
        </div>
      )}
      {deps?.self_contained && tab === 'dependencies' && (
        <>
          {deps.dependencies.length === 0 ? (
            <div className="jp-UvKernels-muted">The block lists no dependencies yet.</div>
          ) : (
            <table
              className="jp-UvKernels-table jp-UvKernels-notebook-deps"
              aria-label={`Dependencies of ${name}`}
            >
              <thead>
                <tr>
                  <th scope="col">Requirement</th>
                  <th scope="col" title="The version the lock in the notebook pins">
                    Locked
                  </th>
                  <th scope="col">
                    <span className="jp-UvKernels-visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {deps.dependencies.map(dep => (
                  <tr key={dep.requirement} data-package={dep.name}>
                    <td className="jp-UvKernels-package-name" title={dep.requirement}>
                      {dep.requirement}
                    </td>
                    <td data-column="locked">
                      <span className={dep.locked_version ? '' : 'jp-UvKernels-muted'}>
                        {lockState(dep, deps.locked)}
                      </span>
                    </td>
                    <td className="jp-UvKernels-notebook-rowactions">
                      {canEdit && (
                        <>
                          <TextButton
                            aria-label={`Upgrade ${dep.name}`}
                            title={`uv lock --script --upgrade-package ${dep.name}`}
                            disabled={busy}
                            onClick={() => void run(() => model.upgrade([dep.name]))}
                          >
                            Upgrade
                          </TextButton>
                          <TextButton
                            aria-label={`Remove ${dep.name}`}
                            title={`uv remove --script ${dep.name}`}
                            disabled={busy}
                            onClick={() => void remove(dep.name)}
                          >
                            Remove
                          </TextButton>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {deps?.self_contained && tab === 'tree' && (
        <TreeSection
          env={asEnvironment(path)}
          client={viewClient}
          why={why}
          version={model.version}
          onWhy={setWhy}
        />
      )}
      {deps?.self_contained && tab === 'updates' && (
        <OutdatedSection
          env={asEnvironment(path)}
          client={viewClient}
          busy={busy || !canEdit}
          version={model.version}
          upgrade={packages => void run(() => model.upgrade(packages))}
          constraints="the notebook's '# /// script' block"
          upgradeAllTitle="uv lock --script --upgrade within the notebook's block (the notebook's lock is rewritten)"
        />
      )}
      {deps && !problem && (
        <form
          className="jp-UvKernels-add"
          onSubmit={event => {
            event.preventDefault();
            void addTyped();
          }}
        >
          <label htmlFor={inputId} className="jp-UvKernels-label">
            {deps.self_contained ? 'Add packages' : 'Add packages to the notebook itself'}
          </label>
          <RequirementsInput
            id={inputId}
            errorId={errorId}
            target={name}
            text={text}
            onText={value => {
              setText(value);
              setError(null);
            }}
            error={error !== null}
            busy={busy}
            title="uv add --script: into the notebook's PEP 723 block (created if missing), relocked if it is locked"
          />
        </form>
      )}
      {error && <InlineError id={errorId} message={error.message} title={error.title} />}
      {deps && (
        <div className="jp-UvKernels-row jp-UvKernels-notebook-actions">
          {canEdit && deps.self_contained && (
            <>
              <TextButton
                aria-label={`${deps.locked ? 'Relock' : 'Lock'} ${name}`}
                title="uv lock --script: pin every version into the notebook's metadata (juv's “uv.lock”)"
                disabled={busy}
                onClick={() => void run(() => model.lock())}
              >
                {deps.locked ? 'Relock' : 'Lock'}
              </TextButton>
              <TextButton
                aria-label={`Upgrade all of ${name}`}
                title="uv lock --script --upgrade: every dependency to the newest version the block allows"
                disabled={busy || deps.dependencies.length === 0}
                onClick={() => void run(() => model.upgrade([]))}
              >
                Upgrade all
              </TextButton>
            </>
          )}
          {!deps.self_contained && (
            <TextButton
              title="Write the notebook's dependencies into it (PEP 723, as juv does), from its environment or from its imports"
              disabled={busy}
              onClick={() => void actions.makeSelfContained()}
            >
              Make self-contained…
            </TextButton>
          )}
          {canEdit && deps.self_contained && (
            <TextButton
              title="Make the notebook's folder a uv project (pyproject.toml and uv.lock) from these dependencies"
              disabled={busy}
              onClick={() => void actions.toProject()}
            >
              Turn into a project…
            </TextButton>
          )}
        </div>
      )}
    </div>
  );
}
