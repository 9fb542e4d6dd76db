/**
 * The dependency tree of one environment (`GET environments/{id}/tree`), collapsible,
 * and "why is this installed?": the inverted tree of one package.
 */
import * as React from 'react';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { errorMessage, UvKernelsClient } from '../api';
import { TextButton } from '../components/common';
import { IEnvironment, ITreeNode, ITreeReply } from '../tokens';

/** The group names of the tree as the view shows them. */
export function groupLabel(name: string): string {
  if (name === 'main') {
    return 'main dependencies';
  }
  if (name === 'installed') {
    return 'installed (nothing else requires these)';
  }
  if (name === 'required-by') {
    return 'required by';
  }
  if (name.startsWith('extra:')) {
    return `extra ${name.slice('extra:'.length)}`;
  }
  return `group ${name}`;
}

function TreeNodeRow(props: {
  node: ITreeNode;
  path: string;
  depth: number;
  /** Open every level (the inverted tree is short). */
  openAll: boolean;
  onWhy?: (name: string) => void;
}): JSX.Element {
  const { node, path, depth, openAll, onWhy } = props;
  const [open, setOpen] = React.useState(openAll);
  const hasChildren = node.dependencies.length > 0;
  return (
    <li
      className="jp-UvKernels-tree-node"
      data-package={node.name}
      data-depth={depth}
      role="treeitem"
      aria-expanded={hasChildren ? open : undefined}
    >
      <div className="jp-UvKernels-tree-row">
        {hasChildren ? (
          <button
            type="button"
            className="jp-UvKernels-tree-toggle"
            aria-label={`${open ? 'Fold' : 'Unfold'} ${node.name}`}
            onClick={() => setOpen(!open)}
          >
            {open ? (
              <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
            ) : (
              <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
            )}
          </button>
        ) : (
          <span className="jp-UvKernels-tree-leaf" />
        )}
        <span className="jp-UvKernels-package-name">{node.name}</span>
        {node.version && <span className="jp-UvKernels-package-version">{node.version}</span>}
        {node.extra && (
          <span className="jp-UvKernels-tag" title="The extra or group that brings it in">
            {node.extra}
          </span>
        )}
        {node.repeated && (
          <span
            className="jp-UvKernels-muted"
            title="Its dependencies are shown where it first appears"
          >
            (shown above)
          </span>
        )}
        {onWhy && (
          <TextButton
            className="jp-UvKernels-why"
            aria-label={`Why? (what requires ${node.name})`}
            title={`Show what requires ${node.name}`}
            onClick={() => onWhy(node.name)}
          >
            Why?
          </TextButton>
        )}
      </div>
      {hasChildren && open && (
        <ul role="group" className="jp-UvKernels-tree-children">
          {node.dependencies.map((child, i) => (
            <TreeNodeRow
              key={`${child.name}-${i}`}
              node={child}
              path={`${path}/${child.name}`}
              depth={depth + 1}
              openAll={openAll}
              onWhy={onWhy}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

/** A tree reply: one list per group. */
export function TreeView(props: {
  reply: ITreeReply;
  label: string;
  openAll?: boolean;
  onWhy?: (name: string) => void;
}): JSX.Element {
  const { reply, label, onWhy } = props;
  if (!reply.groups.some(g => g.dependencies.length)) {
    return <div className="jp-UvKernels-muted">Nothing to show.</div>;
  }
  return (
    <div className="jp-UvKernels-tree">
      {reply.groups.map(group => (
        <div key={group.name} className="jp-UvKernels-tree-group" data-group={group.name}>
          <div className="jp-UvKernels-label">{groupLabel(group.name)}</div>
          <ul role="tree" aria-label={`${label}: ${groupLabel(group.name)}`}>
            {group.dependencies.map((node, i) => (
              <TreeNodeRow
                key={`${node.name}-${i}`}
                node={node}
                path={node.name}
                depth={0}
                openAll={!!props.openAll}
                onWhy={onWhy}
              />
            ))}
          </ul>
        </div>
      ))}
    </div>
  );
}

/** Load a reply when `load` changes identity; `null` while loading. */
function useReply<T>(
  load: (() => Promise<T>) | null,
  deps: React.DependencyList
): { reply: T | null; error: string | null; loading: boolean } {
  const [state, setState] = React.useState<{
    reply: T | null;
    error: string | null;
    loading: boolean;
  }>({ reply: null, error: null, loading: false });
  React.useEffect(() => {
    if (!load) {
      setState({ reply: null, error: null, loading: false });
      return;
    }
    let live = true;
    setState(s => ({ ...s, loading: true, error: null }));
    load()
      .then(reply => live && setState({ reply, error: null, loading: false }))
      .catch(
        error => live && setState({ reply: null, error: errorMessage(error), loading: false })
      );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

/**
 * The Tree section's body: "why?" for the package asked about (if any), then the tree.
 * `version` changes when the environment changed (an operation on it ended): re-read.
 */
export function TreeSection(props: {
  env: IEnvironment;
  client: UvKernelsClient;
  why: string | null;
  version: number;
  onWhy: (name: string | null) => void;
}): JSX.Element {
  const { env, client, why, version, onWhy } = props;
  const tree = useReply(() => client.tree(env.id), [client, env.id, version]);
  const inverted = useReply(why ? () => client.tree(env.id, { invert: true, pkg: why }) : null, [
    client,
    env.id,
    why,
    version
  ]);
  return (
    <div className="jp-UvKernels-tree-section">
      {why && (
        <div
          className="jp-UvKernels-why-panel"
          role="region"
          aria-label={`Why is ${why} installed?`}
        >
          <div className="jp-UvKernels-row">
            <span className="jp-UvKernels-label">Why is {why} installed?</span>
            <TextButton aria-label="Close the why view" onClick={() => onWhy(null)}>
              Close
            </TextButton>
          </div>
          {inverted.loading && <div className="jp-UvKernels-muted">Reading the tree…</div>}
          {inverted.error && (
            <div className="jp-UvKernels-error" role="alert">
              {inverted.error}
            </div>
          )}
          {inverted.reply && !inverted.loading && (
            <TreeView reply={inverted.reply} label={`What requires ${why}`} openAll />
          )}
        </div>
      )}
      {tree.loading && !tree.reply && <div className="jp-UvKernels-muted">Reading the tree…</div>}
      {tree.error && (
        <div className="jp-UvKernels-error" role="alert">
          {tree.error}
        </div>
      )}
      {tree.reply && (
        <TreeView reply={tree.reply} label={`Dependency tree of ${env.name}`} onWhy={onWhy} />
      )}
    </div>
  );
}
