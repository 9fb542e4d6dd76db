import * as React from 'react';
import {
  caretDownIcon,
  caretRightIcon,
  closeIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';

import { IOperation, ITrackedOperation } from '../tokens';
import { IPanelHost, IPanelModels, StateBadge, TextButton, useSignals } from './common';

/** Where an operation works, relative to its root when it lies in one. */
export function operationPlace(op: IOperation, roots: ReadonlyArray<string>): string {
  const path = op.environment?.path ?? op.path;
  for (const root of roots) {
    const prefix = root.replace(/\/+$/, '') + '/';
    if (path.startsWith(prefix)) {
      return path.slice(prefix.length);
    }
  }
  return path;
}

/** The local time an operation was asked for, or '' when unknown. */
function operationTime(op: IOperation): string {
  const when = new Date(op.created_at ?? op.started_at ?? '');
  return isNaN(when.getTime()) ? '' : when.toLocaleTimeString();
}

/** Running and recent operations, each with its live log and a cancel button. */
export function OperationList(props: {
  models: IPanelModels;
  host: IPanelHost;
  /** Show only these operations (the main-area view: the ones on its environment). */
  filter?: (op: IOperation) => boolean;
  /** What to say when there is none. */
  emptyText?: string;
}): JSX.Element {
  const { models, filter } = props;
  const model = models.operations;
  useSignals(model.changed, model.operationChanged, models.environments.changed);
  const operations = [...model.operations].filter(t => !filter || filter(t.operation)).reverse();
  if (!operations.length) {
    return (
      <div className="jp-UvKernels-operations jp-UvKernels-muted jp-UvKernels-empty">
        {props.emptyText ??
          'No operations yet. Syncing, adding packages or creating an environment shows its uv ' +
            'output here.'}
      </div>
    );
  }
  return (
    <ul className="jp-UvKernels-operations" aria-label="uv operations">
      {operations.map(tracked => (
        <OperationItem
          key={tracked.operation.id}
          tracked={tracked}
          models={models}
          host={props.host}
        />
      ))}
    </ul>
  );
}

function OperationItem(props: {
  tracked: ITrackedOperation;
  models: IPanelModels;
  host: IPanelHost;
}): JSX.Element {
  const { tracked, models, host } = props;
  const model = models.operations;
  const op = tracked.operation;
  const place = operationPlace(op, models.environments.roots);
  const time = operationTime(op);
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
          title={`${tracked.label}\n${op.environment?.path ?? op.path}${time ? `\nasked at ${time}` : ''}`}
          onClick={() => setOpen(!showLog)}
        >
          {showLog ? (
            <caretDownIcon.react tag="span" className="jp-UvKernels-caret" />
          ) : (
            <caretRightIcon.react tag="span" className="jp-UvKernels-caret" />
          )}
          <span className="jp-UvKernels-operation-main">
            <span className="jp-UvKernels-operation-label">{tracked.label}</span>
            <span className="jp-UvKernels-operation-meta">
              <span className="jp-UvKernels-operation-place">{place}</span>
              {time && <span className="jp-UvKernels-operation-time">{time}</span>}
            </span>
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
              model.cancel(op.id).catch(error => host.notifyError(String(error?.message ?? error)));
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
