/**
 * The pure logic of the "This notebook" section (issue 15): what the section says about a
 * notebook's inline dependencies, the labels of its operations, which operations concern
 * which notebook, and when to offer the one-click kernel switch or a restart.
 * No React, no JupyterLab: unit-tested in test/notebook.test.ts.
 */
import type { ILogLine, IOperation } from '../tokens';
import type { INotebookDependencies, INotebookDependency, NotebookEditAction } from './api';

/** The kernel that runs a notebook on its own inline dependencies. */
export const SCRIPT_KERNEL = 'uv-script';

/** The last part of a path: the notebook's file name. */
export function fileName(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || path;
}

/**
 * Whether to show "Use this notebook's dependencies": the notebook has a good block and
 * its kernel is another one (or none yet).
 */
export function offersOneClick(
  deps: INotebookDependencies | null,
  kernelName: string | null
): boolean {
  if (!deps || !deps.self_contained || deps.problem) {
    return false;
  }
  return kernelName !== (deps.kernel || SCRIPT_KERNEL);
}

/** "locked 1.16.0", "not locked", or "not in the lock" for one dependency. */
export function lockState(dep: INotebookDependency, locked: boolean): string {
  if (dep.locked_version) {
    return dep.locked_version;
  }
  return locked ? 'not in the lock' : 'not locked';
}

/** The one-line summary under the section's title. */
export function summary(deps: INotebookDependencies): string {
  if (!deps.self_contained) {
    return 'No inline dependencies: this notebook runs on whichever kernel you pick.';
  }
  const count = deps.dependencies.length;
  const parts = [`${count} ${count === 1 ? 'dependency' : 'dependencies'}`];
  if (deps.requires_python) {
    parts.push(`Python ${deps.requires_python}`);
  }
  parts.push(deps.locked ? 'locked' : 'not locked');
  if (deps.environment) {
    parts.push(deps.environment.built ? 'environment built' : 'environment not built yet');
  }
  return parts.join(' · ');
}

/** The names of a list of requirements, for labels ("numpy>=2" -> "numpy"). */
export function requirementNames(packages: ReadonlyArray<string>): string[] {
  return packages.map(p => {
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(p);
    return match ? match[1] : p.trim();
  });
}

function listed(names: string[]): string {
  if (names.length <= 3) {
    return names.join(', ');
  }
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** The label of an edit, as the notification and the Operations section show it. */
export function editLabel(
  action: NotebookEditAction,
  path: string,
  packages: ReadonlyArray<string> = [],
  locked = false
): string {
  const name = fileName(path);
  const names = listed(requirementNames(packages));
  switch (action) {
    case 'add':
      return `Add ${names} to ${name}`;
    case 'remove':
      return `Remove ${names} from ${name}`;
    case 'upgrade':
      return packages.length ? `Upgrade ${names} in ${name}` : `Upgrade all of ${name}`;
    case 'lock':
      return `${locked ? 'Relock' : 'Lock'} ${name}`;
  }
}

/** Labels of operations this page did not start (adopted, or the kernel's build). */
export function describeNotebookOperation(op: IOperation): string | null {
  const name = fileName(op.path);
  switch (op.action as string) {
    case 'build-notebook-env':
      return `Build the environment of ${name}`;
    case 'notebook-add':
      return `Add packages to ${name}`;
    case 'notebook-remove':
      return `Remove packages from ${name}`;
    case 'notebook-upgrade':
      return `Upgrade packages in ${name}`;
    case 'notebook-lock':
      return `Lock ${name}`;
    case 'notebook-self-contained':
      return `Make ${name} self-contained`;
    case 'notebook-to-project':
      return `Turn ${name} into a project`;
    default:
      return null;
  }
}

/**
 * Whether an operation is about this notebook: its path is the notebook's real path (as
 * the dependencies reply gives it), or ends with its path relative to the server root.
 */
export function concernsNotebook(
  op: Pick<IOperation, 'path'>,
  localPath: string,
  realPath: string | null
): boolean {
  const path = op.path ?? '';
  if (!path) {
    return false;
  }
  if (realPath && path === realPath) {
    return true;
  }
  const local = localPath.replace(/^\/+/, '');
  return path === local || (local !== '' && path.endsWith(`/${local}`));
}

/** How much of a uv line a notification shows. */
const LINE_MAX = 120;

/** The latest non-empty line of a log, shortened for a notification. */
export function latestLine(log: ReadonlyArray<ILogLine>): string {
  for (let i = log.length - 1; i >= 0; i--) {
    const line = log[i].line.trim();
    if (line) {
      return line.length > LINE_MAX ? `${line.slice(0, LINE_MAX - 1)}…` : line;
    }
  }
  return '';
}

/** The in-progress message of a first build: what is happening and uv's latest line. */
export function buildProgressMessage(path: string, log: ReadonlyArray<ILogLine>): string {
  const head = `Building the environment of ${fileName(path)} (first start of its dependencies)…`;
  const line = latestLine(log);
  return line ? `${head}\n${line}` : head;
}

/** Edits that change what the kernel would import: after them a uv-script kernel restarts. */
const DEPENDENCY_CHANGES = new Set([
  'add',
  'remove',
  'upgrade',
  'lock',
  'self-contained',
  'notebook-add',
  'notebook-remove',
  'notebook-upgrade',
  'notebook-lock',
  'notebook-self-contained'
]);

/** Whether to offer "Restart the kernel to use the new dependencies?". */
export function offersRestart(
  action: string,
  state: IOperation['state'],
  kernelName: string | null
): boolean {
  return state === 'succeeded' && kernelName === SCRIPT_KERNEL && DEPENDENCY_CHANGES.has(action);
}

/** What each source of "Make self-contained" means, for its dialog. */
export const SELF_CONTAINED_SOURCES = {
  environment:
    "From the current environment: the direct dependencies of the environment this notebook's " +
    'kernel runs in, at the versions installed there. Best when the notebook already works.',
  imports:
    'From the imports: the packages the notebook imports, mapped to the distributions that ' +
    'provide them. Smaller, but it may miss packages loaded indirectly (plugins, engines); ' +
    'imports that map to nothing installed are listed when it is done.'
} as const;

/**
 * The result a conversion reports when it is done, as one line: the server's message
 * (self-contained: how many dependencies from which source, and the imports no installed
 * package provides; project: the folder), plus what `result` holds that it does not say
 * (`unmapped_imports`, the project's `kernel`).
 */
export function resultText(op: IOperation & { result?: unknown }): string {
  const message = (op.message ?? '').trim();
  const r =
    op.result && typeof op.result === 'object' ? (op.result as Record<string, unknown>) : {};
  const parts: string[] = message ? [message] : [];
  const source = r.source ?? r.from;
  if (!message && typeof source === 'string') {
    const added = Array.isArray(r.added) ? r.added.length : null;
    parts.push(
      `${added === null ? 'Dependencies' : `${added} dependencies`} taken from the ${source}.`
    );
  }
  const unmapped = Array.isArray(r.unmapped_imports) ? (r.unmapped_imports as string[]) : [];
  const missing = unmapped.filter(name => !message.includes(name));
  if (missing.length) {
    parts.push(`No installed package provides: ${missing.join(', ')}.`);
  }
  if (!message && typeof r.project === 'string') {
    parts.push(`Project: ${r.project}.`);
  }
  if (typeof r.kernel === 'string' && !message.includes(r.kernel)) {
    parts.push(`Its kernel: ${r.kernel}.`);
  }
  return parts.join(' ');
}
