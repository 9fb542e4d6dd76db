import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';

import { UvKernelsError } from '../api';
import {
  EnvironmentStatus,
  IEnvironment,
  IEnvironmentActions,
  IEnvironmentsModel,
  IOperationsModel,
  ITrackedOperation,
  OperationState
} from '../tokens';

/** The models a view works with; each may be shared with other views. */
export interface IPanelModels {
  environments: IEnvironmentsModel;
  operations: IOperationsModel;
  actions: IEnvironmentActions;
}

/** What the views ask of the application: everything with a JupyterLab side effect. */
export interface IPanelHost {
  /** Ask before a destructive action (unless the user turned confirmations off). */
  confirm(title: string, body: string, acceptLabel: string): Promise<boolean>;
  /**
   * Open a new notebook on the environment's own kernel or, with `inProject`, in the
   * project's folder on the `uv-project` kernel (which runs whichever project the notebook
   * is in, so the saved notebook works in any clone).
   */
  openNotebook(env: IEnvironment, options?: { inProject?: boolean }): Promise<void>;
  /**
   * Whether "New notebook in project" can be offered: a project with a kernel, under the
   * server root, while the `uv-project` kernelspec exists.
   */
  canOpenInProject(env: IEnvironment): boolean;
  /** Emitted when the answer of `canOpenInProject` may have changed. */
  readonly kernelspecsChanged: ISignal<any, any>;
  /** The env's path relative to the server root, or null if the file browser cannot reach it. */
  fileBrowserPath(env: IEnvironment): string | null;
  showInFileBrowser(env: IEnvironment): Promise<void>;
  notifyError(message: string): void;
  notifySuccess(message: string): void;
  /** Open the environment's main-area view (clicking it in the sidebar list). */
  openEnvironment(env: IEnvironment): void;
}

/** Re-render whenever any of the signals fires. */
export function useSignals(...signals: ISignal<any, any>[]): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = (): void => setTick(t => t + 1);
    signals.forEach(s => s.connect(bump));
    return () => {
      signals.forEach(s => s.disconnect(bump));
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, signals);
}

/** A refused request as the views show it: the server's message and its HTTP status. */
export interface IRefusal {
  message: string;
  status: number;
}

export function refusal(error: unknown): IRefusal {
  if (error instanceof UvKernelsError) {
    return { message: error.message, status: error.status };
  }
  return { message: error instanceof Error ? error.message : String(error), status: 0 };
}

/** Resolves when `tracked` reaches a final state (at once if it already has). */
export function whenFinished(
  operations: IOperationsModel,
  tracked: ITrackedOperation
): Promise<ITrackedOperation> {
  if (tracked.finished) {
    return Promise.resolve(tracked);
  }
  return new Promise(resolve => {
    const onFinished = (_: unknown, t: ITrackedOperation): void => {
      if (t.operation.id === tracked.operation.id) {
        operations.operationFinished.disconnect(onFinished);
        resolve(t);
      }
    };
    operations.operationFinished.connect(onFinished);
  });
}

/** Whether the environment can run a kernel but has none registered. */
export function lacksKernel(env: IEnvironment): boolean {
  return !env.kernel && (env.status === 'ready' || env.status === 'out-of-sync');
}

const STATUS_LABELS: Record<EnvironmentStatus, string> = {
  ready: 'ready',
  'needs-ipykernel': 'needs ipykernel',
  'no-environment': 'no environment',
  'out-of-sync': 'out of sync',
  broken: 'broken'
};

export function StatusBadge(props: { env: IEnvironment }): JSX.Element {
  const { env } = props;
  const tooltip = env.problem ?? (env.kernel ? `Ready; kernel ${env.kernel}` : 'Ready');
  return (
    <span
      className={`jp-UvKernels-badge jp-UvKernels-badge-${env.status}`}
      title={tooltip}
      data-status={env.status}
    >
      {STATUS_LABELS[env.status] ?? env.status}
    </span>
  );
}

/** "read-only": the folder is not writable by this user; Copy it to change it. */
export function ReadOnlyBadge(): JSX.Element {
  return (
    <span
      className="jp-UvKernels-badge jp-UvKernels-badge-readonly"
      data-status="read-only"
      title="Read-only: you cannot sync, add, remove, upgrade or delete here. Copy it to your own folder instead."
    >
      read-only
    </span>
  );
}

/** "no kernel": the environment works, but no kernelspec points at it. */
export function NoKernelMarker(): JSX.Element {
  return (
    <span
      className="jp-UvKernels-nokernel"
      title="No kernel is registered for this environment; open it and use Register kernel."
    >
      no kernel
    </span>
  );
}

const STATE_LABELS: Record<OperationState, string> = {
  queued: 'queued',
  running: 'running',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled'
};

export function StateBadge(props: { state: OperationState }): JSX.Element {
  return (
    <span className={`jp-UvKernels-badge jp-UvKernels-op-${props.state}`} data-state={props.state}>
      {STATE_LABELS[props.state] ?? props.state}
    </span>
  );
}

/** A plain text button in JupyterLab's style. */
export function TextButton(
  props: React.ButtonHTMLAttributes<HTMLButtonElement> & { accept?: boolean; warn?: boolean }
): JSX.Element {
  const { accept, warn, className, ...rest } = props;
  const classes = [
    'jp-UvKernels-button',
    accept
      ? 'jp-mod-styled jp-mod-accept'
      : warn
        ? 'jp-mod-styled jp-mod-warn'
        : 'jp-UvKernels-secondary',
    className ?? ''
  ].join(' ');
  return <Button type="button" small className={classes} {...rest} />;
}

/** An error shown where the user acted, with an optional action (e.g. "Remove anyway"). */
export function InlineError(props: {
  id?: string;
  message: string;
  title?: string;
  children?: React.ReactNode;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  // Inside a scrolled list (packages) the error could appear out of sight.
  React.useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [props.message]);
  return (
    <div
      id={props.id}
      ref={ref}
      className="jp-UvKernels-error jp-UvKernels-inline-error"
      role="alert"
    >
      <span title={props.title}>{props.message}</span>
      {props.children && <div className="jp-UvKernels-row">{props.children}</div>}
    </div>
  );
}
