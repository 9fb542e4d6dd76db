/**
 * The Lumino side of the jobs UI: the form's main-area tab, the sidebar section, the log
 * dialog, the icon and the remembered account and queue.
 */
import * as React from 'react';
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import batchJobSvg from '../../style/icons/batch-job.svg';
import { IJob, IJobDetail } from './api';
import { fileName, IRemembered } from './format';
import { IJobFormProps, JobForm } from './JobForm';
import { IJobActions, JobList } from './JobList';
import { JobsModel } from './model';

export const batchJobIcon = new LabIcon({
  name: 'jupyter-uv-kernels:batch-job',
  svgstr: batchJobSvg
});

/** Where the last account and queue are kept (this browser, this extension). */
const MEMORY_KEY = 'jupyter-uv-kernels:plugin:job-form';

export function loadRemembered(): IRemembered {
  try {
    const stored = JSON.parse(window.localStorage.getItem(MEMORY_KEY) ?? '{}');
    const pick = (value: unknown): string | undefined =>
      typeof value === 'string' && value ? value : undefined;
    return { account: pick(stored?.account), queue: pick(stored?.queue) };
  } catch {
    return {};
  }
}

/** Remember what a submitted job used (a value left to the defaults is not remembered). */
export function saveRemembered(values: { account?: string | null; queue?: string | null }): void {
  const next = { ...loadRemembered() };
  if (values.account) {
    next.account = values.account;
  }
  if (values.queue) {
    next.queue = values.queue;
  }
  try {
    window.localStorage.setItem(MEMORY_KEY, JSON.stringify(next));
  } catch {
    // Storage full or disabled: the form simply starts from the defaults next time.
  }
}

/** The form's content in its main-area tab. */
export class JobFormContent extends ReactWidget {
  constructor(private readonly _props: IJobFormProps) {
    super();
    this.addClass('jp-UvKernels-jobform-content');
  }

  get path(): string {
    return this._props.path;
  }

  render(): JSX.Element {
    return <JobForm {...this._props} />;
  }
}

export type JobFormWidget = MainAreaWidget<JobFormContent>;

export function createFormWidget(props: IJobFormProps): JobFormWidget {
  const widget = new MainAreaWidget({ content: new JobFormContent(props) });
  widget.addClass('jp-UvKernels-jobform-widget');
  widget.title.label = `Batch job: ${fileName(props.path)}`;
  widget.title.caption = `Run ${props.path} as a batch job`;
  widget.title.icon = batchJobIcon;
  widget.title.closable = true;
  return widget;
}

/** The sidebar's Jobs section; the list is polled only while it is visible. */
export class JobsSection extends ReactWidget {
  constructor(
    private readonly _model: JobsModel,
    private readonly _actions: IJobActions
  ) {
    super();
    this.addClass('jp-UvKernels-section');
    this.addClass('jp-UvKernels-jobs-section');
    this.title.label = 'Jobs';
    this.title.caption = 'Batch jobs submitted from here (PBS or Slurm)';
  }

  render(): JSX.Element {
    return <JobList model={this._model} actions={this._actions} />;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._model.visible = this.isVisible;
  }
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.visible = true;
  }
  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.visible = false;
  }
  protected onBeforeDetach(msg: Message): void {
    this._model.visible = false;
    super.onBeforeDetach(msg);
  }
}

/** The tail of a job's log, in a dialog (when the log is outside the file browser's reach). */
export async function showLogTail(job: IJob, detail: IJobDetail): Promise<void> {
  const body = new Widget({ node: document.createElement('div') });
  body.addClass('jp-UvKernels-job-logdialog');
  const where = document.createElement('div');
  where.className = 'jp-UvKernels-muted';
  where.textContent = detail.log_tail
    ? `The last lines of ${detail.log_path}`
    : `${detail.log_path} is empty or not written yet${job.state === 'queued' ? ' (the job has not started)' : ''}.`;
  body.node.appendChild(where);
  if (detail.log_tail) {
    const pre = document.createElement('pre');
    pre.className = 'jp-UvKernels-log jp-UvKernels-job-log';
    pre.textContent = detail.log_tail;
    body.node.appendChild(pre);
  }
  await showDialog({
    title: `Log of ${job.name} (${job.id})`,
    body,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
