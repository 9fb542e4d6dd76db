/**
 * The one place that talks HTTP to the server extension: the transport (`requestAPI`) and
 * the typed client every model shares (`UvKernelsClient`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

// issue 12: sources
import type { IFileListing, IIndex, IPackageSource } from './tokens';

import type {
  ICreateRequest,
  IEnvironment,
  IEnvironmentDetails,
  IEnvironmentList,
  IExportReply,
  IExportSaved,
  IOperation,
  IOperationPage,
  IOutdatedReply,
  IPython,
  ISizeReply,
  ITreeReply,
  ExportFormat
} from './tokens';

/** A failed request. `message` is the server's own `{"message": …}` when it sent one. */
export class UvKernelsError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown = null
  ) {
    super(message);
    this.name = 'UvKernelsError';
  }
}

/** The transport the client uses, so tests can hand it a fake one. */
export type RequestFunction = <T>(endpoint: string, init?: RequestInit) => Promise<T>;

/**
 * Call `{baseUrl}uv-kernels/{endpoint}` and parse the JSON answer.
 *
 * @throws UvKernelsError with the server's message on a non-2xx answer, or with a
 * "cannot reach the server" message when the request never got an answer.
 */
export async function requestAPI<T>(
  endpoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'uv-kernels', endpoint);
  if (init.body !== undefined && !(init.headers as Record<string, string> | undefined)) {
    init = { ...init, headers: { 'Content-Type': 'application/json' } };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new UvKernelsError(`Cannot reach the Jupyter server: ${String(error)}`, 0);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && typeof (data as any).message === 'string'
        ? (data as any).message
        : `${response.status} ${response.statusText || 'error'} from ${endpoint}`;
    throw new UvKernelsError(message, response.status, data);
  }
  return data as T;
}

/** The message to show for anything thrown by a request. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** A JSON request body. */
export function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

/** The answer of `DELETE environments/{id}/kernel`. */
export interface IUnregisterReply {
  environment: IEnvironment;
  removed: string[];
}

/**
 * Every route of the REST API as a typed method. One instance is shared by the
 * environments model, the operations model and the actions; it keeps no state.
 */
export class UvKernelsClient {
  constructor(request: RequestFunction) {
    this.request = request;
  }

  /** The raw transport, for routes this class does not wrap. */
  readonly request: RequestFunction;

  environments(): Promise<IEnvironmentList> {
    return this.request<IEnvironmentList>('environments');
  }

  /** Ask the server to rescan the roots now. */
  async refresh(): Promise<void> {
    await this.request('refresh', jsonBody('POST', {}));
  }

  details(id: string): Promise<IEnvironmentDetails> {
    return this.request<IEnvironmentDetails>(envPath(id));
  }

  async pythons(): Promise<IPython[]> {
    const reply = await this.request<{ pythons: IPython[] }>('pythons');
    return reply.pythons;
  }

  create(request: ICreateRequest): Promise<IOperation> {
    return this._operation('environments', jsonBody('POST', request));
  }

  sync(id: string, relock = false): Promise<IOperation> {
    return this._operation(`${envPath(id)}/sync`, jsonBody('POST', { relock }));
  }

  /** `source`: a requirements file and/or a named index (issue 12), sent only when set. */
  addPackages(id: string, packages: string[], source: IPackageSource = {}): Promise<IOperation> {
    return this._operation(
      `${envPath(id)}/packages`,
      jsonBody('POST', { packages, ...sourceFields(source) })
    );
  }

  /** `force` skips the venv check that other installed packages need it. */
  removePackage(id: string, name: string, force = false): Promise<IOperation> {
    const endpoint = `${envPath(id)}/packages/${encodeURIComponent(name)}`;
    return this._operation(force ? `${endpoint}?force=true` : endpoint, { method: 'DELETE' });
  }

  registerKernel(id: string): Promise<IOperation> {
    return this._operation(`${envPath(id)}/kernel`, jsonBody('POST', {}));
  }

  unregisterKernel(id: string): Promise<IUnregisterReply> {
    return this.request<IUnregisterReply>(`${envPath(id)}/kernel`, { method: 'DELETE' });
  }

  async operations(): Promise<IOperation[]> {
    const reply = await this.request<{ operations: IOperation[] }>('operations');
    return reply.operations;
  }

  /** One operation and its log from line `since` on. */
  operationPage(id: string, since: number): Promise<IOperationPage> {
    return this.request<IOperationPage>(`operations/${encodeURIComponent(id)}?since=${since}`);
  }

  cancelOperation(id: string): Promise<IOperation> {
    return this._operation(`operations/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  // -- environment manager (issue 12): view

  /** Upgrade these packages (an empty list: everything) within the constraints. */
  upgrade(id: string, packages: string[] = []): Promise<IOperation> {
    return this._operation(`${envPath(id)}/upgrade`, jsonBody('POST', { packages }));
  }

  /** The packages with a newer release; `refresh` skips the server's short cache. */
  outdated(id: string, refresh = false): Promise<IOutdatedReply> {
    const query = refresh ? '?refresh=true' : '';
    return this.request<IOutdatedReply>(`${envPath(id)}/outdated${query}`);
  }

  /** The dependency tree, or with `invert` what requires `pkg` ("why is this installed?"). */
  tree(id: string, options: { invert?: boolean; pkg?: string } = {}): Promise<ITreeReply> {
    const query = options.invert
      ? `?invert=true&package=${encodeURIComponent(options.pkg ?? '')}`
      : '';
    return this.request<ITreeReply>(`${envPath(id)}/tree${query}`);
  }

  /** The environment as a requirements.txt or pylock.toml text. */
  exportEnvironment(id: string, format: ExportFormat): Promise<IExportReply> {
    return this.request<IExportReply>(`${envPath(id)}/export?format=${encodeURIComponent(format)}`);
  }

  /** Write the export into the project's folder (409 when the file exists, unless `overwrite`). */
  saveExport(id: string, format: ExportFormat, overwrite = false): Promise<IExportSaved> {
    return this.request<IExportSaved>(
      `${envPath(id)}/export`,
      jsonBody('POST', { format, overwrite })
    );
  }

  /** Disk use of the venv, measured within the server's time budget. */
  size(id: string): Promise<ISizeReply> {
    return this.request<ISizeReply>(`${envPath(id)}/size`);
  }

  /** Remove the venv (a project: only .venv); `force` even while a kernel of it runs. */
  deleteEnvironment(id: string, force = false): Promise<IOperation> {
    return this._operation(force ? `${envPath(id)}?force=true` : envPath(id), {
      method: 'DELETE'
    });
  }

  /** Copy the environment `fromId` into the new folder `path`, then sync it. */
  copyEnvironment(fromId: string, path: string): Promise<IOperation> {
    return this._operation('environments', jsonBody('POST', { path, from: fromId }));
  }

  private async _operation(endpoint: string, init: RequestInit): Promise<IOperation> {
    const reply = await this.request<{ operation: IOperation }>(endpoint, init);
    return reply.operation;
  }

  // -- environment manager (issue 12): sources

  /** One folder inside the roots for the requirements-file picker; null: the roots. */
  files(path: string | null = null): Promise<IFileListing> {
    const query = path === null ? '' : `?path=${encodeURIComponent(path)}`;
    return this.request<IFileListing>(`files${query}`);
  }

  /** The named indexes of UvKernels.indexes (a project's own are in its details). */
  async indexes(): Promise<IIndex[]> {
    const reply = await this.request<{ indexes: IIndex[] }>('indexes');
    return reply.indexes;
  }
}

/** The fields of a package source that are set, for a request body. */
export function sourceFields(source: IPackageSource): IPackageSource {
  const fields: IPackageSource = {};
  if (source.requirements_file) {
    fields.requirements_file = source.requirements_file;
  }
  if (source.index) {
    fields.index = source.index;
  }
  return fields;
}

function envPath(id: string): string {
  return `environments/${encodeURIComponent(id)}`;
}
