/**
 * The environment view's dialogs and browser side effects: the Copy dialog's folder field,
 * Delete's wording, and a download of text as a file.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IEnvironment } from '../tokens';

/** Download `content` as a file named `filename` (a Blob link, clicked). */
export function download(filename: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: 'text/plain' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A Dialog body with one text field; the dialog's value is the field's text. */
export class PathField extends Widget implements Dialog.IBodyWidget<string> {
  constructor(text: string, value: string) {
    super();
    this.addClass('jp-UvKernels-dialog-body');
    const label = document.createElement('label');
    label.textContent = text;
    this._input = document.createElement('input');
    this._input.className = 'jp-mod-styled jp-UvKernels-input';
    this._input.value = value;
    this._input.spellcheck = false;
    this._input.setAttribute('aria-label', 'New folder');
    label.appendChild(this._input);
    this.node.appendChild(label);
  }
  getValue(): string {
    return this._input.value.trim();
  }
  protected onAfterAttach(): void {
    this._input.focus();
    this._input.select();
  }
  private _input: HTMLInputElement;
}

/** The server's refusal in the panel's words: its force=true is the "Delete anyway" button. */
export function panelWording(message: string): string {
  return message.replace(/,?\s*or delete anyway with force=true/i, ', or use Delete anyway');
}

/** What Delete removes, in words, for the confirmation. */
export function deletionText(env: IEnvironment): string {
  const kernel = env.kernel ? ` Its kernel ${env.kernel} is unregistered.` : '';
  if (env.kind === 'project') {
    return (
      `This removes ${env.venv ?? env.path + '/.venv'} (the installed packages). ` +
      `pyproject.toml and uv.lock in ${env.path} are kept, so Sync rebuilds it.` +
      kernel
    );
  }
  return `This removes the folder ${env.path} and everything in it.${kernel}`;
}
