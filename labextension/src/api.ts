/**
 * The one place that talks HTTP to the server extension.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

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

/** The signature the model uses, so tests can hand it a fake transport. */
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
