/**
 * The dialogs of "This notebook": where "Make self-contained" takes the dependencies from,
 * and what "Turn into a project" does.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { SelfContainedSource } from './api';
import { SELF_CONTAINED_SOURCES } from './format';

/** What "Turn into a project" does, for its confirmation. */
export function projectText(notebookPath: string): string {
  const folder = notebookPath.includes('/')
    ? notebookPath.replace(/\/[^/]*$/, '')
    : 'the server root';
  return (
    `This makes ${folder} a uv project: a pyproject.toml and a uv.lock with the ` +
    "notebook's dependencies, and ipykernel as a dev dependency, so it gets a kernel " +
    'like your other projects. The notebook is left as it is. Nothing is done if the ' +
    'folder already has a pyproject.toml.'
  );
}

/** The dialog body of "Make self-contained…": two sources, each explained. */
export class SourceChoice extends Widget implements Dialog.IBodyWidget<SelfContainedSource> {
  constructor(environmentName: string | null) {
    super();
    this.addClass('jp-UvKernels-dialog-body');
    this.addClass('jp-UvKernels-selfcontained-dialog');
    const sources: [SelfContainedSource, string, string][] = [
      [
        'environment',
        environmentName
          ? `From the current environment (${environmentName})`
          : 'From the current environment',
        SELF_CONTAINED_SOURCES.environment
      ],
      ['imports', 'From the imports the notebook uses', SELF_CONTAINED_SOURCES.imports]
    ];
    for (const [value, label, help] of sources) {
      const row = document.createElement('label');
      row.className = 'jp-UvKernels-choice';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'jp-UvKernels-selfcontained-source';
      input.value = value;
      input.checked = value === 'environment';
      const title = document.createElement('span');
      title.className = 'jp-UvKernels-choice-label';
      title.textContent = label;
      const text = document.createElement('span');
      text.className = 'jp-UvKernels-muted jp-UvKernels-choice-help';
      text.textContent = help;
      row.append(input, title, text);
      this.node.appendChild(row);
    }
  }

  getValue(): SelfContainedSource {
    const checked = this.node.querySelector<HTMLInputElement>('input:checked');
    return (checked?.value as SelfContainedSource) ?? 'environment';
  }
}
