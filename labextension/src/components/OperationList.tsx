import * as React from 'react';
import {
  caretDownIcon,
  caretRightIcon,
  closeIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';

import { ITrackedOperation, IUvKernelsModel } from '../tokens';
import { IPanelActions, StateBadge, TextButton, useModel } from './common';

/** Running and recent operations, each with its live log and a cancel button. */
export function OperationList(props: {
  model: IUvKernelsModel;
  actions: IPanelActions;
}): JSX.Element {
  const { model } = props;
  useModel(model);
  const operations = [...model.operations].reverse();
  if (!operations.length) {
    return (
      <div className="jp-UvKernels-operations jp-UvKernels-muted jp-UvKernels-empty">
        No operations yet. Syncing, adding packages or creating an environment shows its uv output
        here.
      </div>
    );
  }
  return (
    <ul className="jp-UvKernels-operations" aria-label="uv operations">
      {operations.map(tracked => (
        <OperationItem
          key={tracked.operation.id}
          tracked={tracked}
          model={model}
          actions={props.actions}
        />
      ))}
    </ul>
  );
}

function OperationItem(props: {
  tracked: ITrackedOperation;
  model: IUvKernelsModel;
  actions: IPanelActions;
}): JSX.Element {
  const { tracked, model, actions } = props;
  const op = tracked.operation;
  // Running operations show their log; finished ones fold it away unless opened.
  const [open, setOpen] = React.useState<boolean | null>(null);
  const showLog = open ?? !tracked.finished;
  const logRef = React.useRef<HTMLPreElement>(null);
  const stick = React.useRef(true);

  React.useLayoutEffect(() => {
    const pre = logRef.current;
    if (pre && stick.current) {
      pre.scrollTop = pre.scrollHeight;
    }
  }, [tracked.log.length, showLog]);

  const logId = `jp-UvKernels-log-${op.id}`;
  return (
    <li className="jp-UvKernels-operation" data-operation-id={op.id} data-state={op.state}>
      <div className="jp-UvKernels-operation-header">
        <button
          type="button"
          className="jp-UvKernels-operation-toggle"
          aria-expanded={showLog}
          aria-controls={logId}
          aria-label={`${tracked.label}: ${op.state}; ${showLog ? 'hide' : 'show'} log`}
          onClick={() => setOpen(!showLog)}
        >
          {showLog ? (
            <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
          ) : (
            <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
          )}
          <span className="jp-UvKernels-operation-label" title={op.path}>
            {tracked.label}
          </span>
          <StateBadge state={op.state} />
        </button>
        {tracked.finished ? (
          <ToolbarButtonComponent
            className="jp-UvKernels-dismiss"
            icon={closeIcon}
            tooltip={`Dismiss "${tracked.label}"`}
            onClick={() => model.dismiss(op.id)}
          />
        ) : (
          <TextButton
            warn
            aria-label={`Cancel ${tracked.label}`}
            title="Stop uv and roll back what this operation created"
            onClick={() => {
              model
                .cancel(op.id)
                .catch(error => actions.notifyError(String(error?.message ?? error)));
            }}
          >
            Cancel
          </TextButton>
        )}
      </div>
      {op.message && tracked.finished && op.state !== 'succeeded' && (
        <div className="jp-UvKernels-operation-message jp-UvKernels-error">{op.message}</div>
      )}
      {showLog && (
        <pre
          id={logId}
          ref={logRef}
          className="jp-UvKernels-log"
          aria-label={`Log of ${tracked.label}`}
          tabIndex={0}
          onScroll={event => {
            const pre = event.currentTarget;
            stick.current = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
          }}
        >
          {tracked.log.length
            ? tracked.log.map((l, i) => (
                <span key={i} className={l.stream === 'stderr' ? 'jp-UvKernels-stderr' : undefined}>
                  {l.line}
                  {'\n'}
                </span>
              ))
            : op.state === 'queued'
              ? 'Waiting for another operation on this environment to finish…'
              : 'No output yet.'}
        </pre>
      )}
    </li>
  );
}
