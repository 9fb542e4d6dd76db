/**
 * Operation progress as JupyterLab notifications: in-progress while uv runs, then success
 * or error with the server's message.
 */
import { Notification } from '@jupyterlab/apputils';

import { failureSummary } from './operations';
import { IOperationsModel, ITrackedOperation } from './tokens';

/** How long a success notification stays, in ms (errors stay until dismissed). */
const SUCCESS_AUTOCLOSE_MS = 5000;

export function finishedMessage(tracked: ITrackedOperation): {
  type: Notification.TypeOptions;
  message: string;
} {
  const op = tracked.operation;
  switch (op.state) {
    case 'succeeded':
      return { type: 'success', message: `${tracked.label}: done.` };
    case 'cancelled':
      return { type: 'warning', message: `${tracked.label}: cancelled.` };
    default:
      return { type: 'error', message: `${tracked.label} failed: ${failureSummary(tracked)}` };
  }
}

/** Follow every operation of the model with one notification each. */
export function connectNotifications(model: IOperationsModel, onShowLog: () => void): void {
  const ids = new Map<string, string>();
  model.operationStarted.connect((_, tracked) => {
    const opId = tracked.operation.id;
    ids.set(
      opId,
      Notification.emit(`${tracked.label}…`, 'in-progress', {
        autoClose: false,
        actions: [
          {
            label: 'Show log',
            caption: 'Open the uv environments panel',
            callback: () => onShowLog()
          },
          {
            label: 'Cancel',
            caption: 'Stop this uv operation',
            displayType: 'warn',
            callback: () => {
              void model.cancel(opId).catch(() => undefined);
            }
          }
        ]
      })
    );
  });
  model.operationFinished.connect((_, tracked) => {
    const opId = tracked.operation.id;
    const { type, message } = finishedMessage(tracked);
    const options = {
      message,
      type,
      autoClose: type === 'error' ? (false as const) : SUCCESS_AUTOCLOSE_MS,
      actions:
        type === 'error'
          ? [{ label: 'Show log', caption: 'Open the uv environments panel', callback: onShowLog }]
          : []
    };
    const id = ids.get(opId);
    ids.delete(opId);
    if (!id || !Notification.update({ id, ...options })) {
      Notification.emit(message, type, { autoClose: options.autoClose, actions: options.actions });
    }
  });
}
