/**
 * The notebook routes of the REST API (issue 15): a notebook's inline dependencies (PEP 723,
 * in juv's format), the edits on them, and the two conversions. Every edit is an operation
 * (202), followed like any other.
 */
import { jsonBody, RequestFunction, UvKernelsClient } from '../api';
import type { IOperation, IOutdatedReply, ITreeReply } from '../tokens';

/** One requirement of the notebook's block, with the version its lock pins (if locked). */
export interface INotebookDependency {
  /** As written in the block, e.g. "six==1.16.0" or "numpy>=2". */
  requirement: string;
  name: string;
  locked_version: string | null;
}

/** The env the uv-script kernel builds for the notebook (keyed by its lock or requirements). */
export interface INotebookEnvironment {
  key: string;
  built: boolean;
  path: string;
}

/** `GET notebooks/dependencies?path=P`. */
export interface INotebookDependencies {
  /** The notebook's real path on the server. */
  path: string;
  /** The notebook has a `# /// script` block. */
  self_contained: boolean;
  requires_python: string | null;
  dependencies: INotebookDependency[];
  /** juv's lock is in the notebook's metadata ("uv.lock"). */
  locked: boolean;
  environment: INotebookEnvironment | null;
  /** The kernel that runs a notebook on its own dependencies ("uv-script"). */
  kernel: string;
  /** The block is bad: one sentence saying what and how to fix it (edits are refused). */
  problem: string | null;
}

export type NotebookEditAction = 'add' | 'remove' | 'upgrade' | 'lock';

/** `POST notebooks/dependencies`. */
export interface INotebookEditRequest {
  path: string;
  action: NotebookEditAction;
  packages?: string[];
  /** Only for an add that creates the block. */
  requires_python?: string | null;
}

/** Where "Make self-contained" takes the dependencies from. */
export type SelfContainedSource = 'environment' | 'imports';

/** The operation actions of the notebook routes (and of the kernel's first build). */
export const NOTEBOOK_ACTIONS = [
  'notebook-add',
  'notebook-remove',
  'notebook-upgrade',
  'notebook-lock',
  'notebook-self-contained',
  'notebook-to-project'
] as const;

/** A build of a notebook's env, started by the uv-script kernel. */
export const BUILD_ACTION = 'build-notebook-env';

/** The typed client of the notebook routes, on the panel's transport. */
export class NotebookClient {
  constructor(readonly request: RequestFunction) {}

  dependencies(path: string): Promise<INotebookDependencies> {
    return this.request<INotebookDependencies>(`notebooks/dependencies?path=${q(path)}`);
  }

  edit(request: INotebookEditRequest): Promise<IOperation> {
    return this._operation('notebooks/dependencies', jsonBody('POST', request));
  }

  /** `uv tree --script`, or with `invert` what requires `pkg` ("why is this here?"). */
  tree(path: string, options: { invert?: boolean; pkg?: string } = {}): Promise<ITreeReply> {
    const query = options.invert ? `&invert=true&package=${q(options.pkg ?? '')}` : '';
    return this.request<ITreeReply>(`notebooks/tree?path=${q(path)}${query}`);
  }

  outdated(path: string, refresh = false): Promise<IOutdatedReply> {
    return this.request<IOutdatedReply>(
      `notebooks/outdated?path=${q(path)}${refresh ? '&refresh=true' : ''}`
    );
  }

  selfContained(
    path: string,
    from: SelfContainedSource,
    environment?: string | null
  ): Promise<IOperation> {
    const body: Record<string, string> = { path, from };
    if (environment) {
      body.environment = environment;
    }
    return this._operation('notebooks/self-contained', jsonBody('POST', body));
  }

  toProject(path: string): Promise<IOperation> {
    return this._operation('notebooks/project', jsonBody('POST', { path }));
  }

  async operations(): Promise<IOperation[]> {
    const reply = await this.request<{ operations: IOperation[] }>('operations');
    return reply.operations;
  }

  private async _operation(endpoint: string, init: RequestInit): Promise<IOperation> {
    const reply = await this.request<{ operation: IOperation }>(endpoint, init);
    return reply.operation;
  }
}

/**
 * A client for the environment view's Tree and Updates sections (view/TreeSection,
 * view/OutdatedSection) that reads the notebook's routes instead: the reply shapes are the
 * same, and the sections ask by "environment id", which here is the notebook's path.
 */
export class NotebookViewClient extends UvKernelsClient {
  constructor(request: RequestFunction) {
    super(request);
    this._notebooks = new NotebookClient(request);
  }

  tree(path: string, options: { invert?: boolean; pkg?: string } = {}): Promise<ITreeReply> {
    return this._notebooks.tree(path, options);
  }

  outdated(path: string, refresh = false): Promise<IOutdatedReply> {
    return this._notebooks.outdated(path, refresh);
  }

  private _notebooks: NotebookClient;
}

function q(value: string): string {
  return encodeURIComponent(value);
}
