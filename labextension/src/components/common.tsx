import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';

import { EnvironmentStatus, IEnvironment, IUvKernelsModel, OperationState } from '../tokens';

/** What the views ask of the application: everything with a JupyterLab side effect. */
export interface IPanelActions {
  /** Start an operation; a refused request is shown as an error notification. */
  runOperation(start: () => Promise<unknown>): Promise<boolean>;
  /** Ask before a destructive action (unless the user turned confirmations off). */
  confirm(title: string, body: string, acceptLabel: string): Promise<boolean>;
  unregisterKernel(env: IEnvironment): Promise<void>;
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

export function useModel(model: IUvKernelsModel): void {
  useSignals(model.changed, model.operationChanged);
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
