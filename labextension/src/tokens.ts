/**
 * The data shapes of the jupyter_uv_kernels REST API and the model's public interface.
 *
 * The shapes mirror ARCHITECTURE §3 and §6 exactly; the server is the source of truth.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

export type EnvironmentKind = 'project' | 'venv';

export type EnvironmentStatus =
  'ready' | 'needs-ipykernel' | 'no-environment' | 'out-of-sync' | 'broken';

/** One environment record (`GET environments`). */
export interface IEnvironment {
  id: string;
  name: string;
  path: string;
  kind: EnvironmentKind;
  venv: string | null;
  python: string | null;
  has_ipykernel: boolean;
  status: EnvironmentStatus;
  kernel: string | null;
  problem: string | null;
  root: string | null;
  relpath: string | null;
  interpreter: string | null;
  uv_managed: boolean;
  workspace_members: string[];
}

export interface IPackage {
  name: string;
  version: string;
}

/** `GET environments/{id}`: the record plus the on-demand checks. */
export interface IEnvironmentDetails extends IEnvironment {
  packages: IPackage[];
  packages_error?: string;
  drift: { checked: boolean; in_sync: boolean | null; output: string } | null;
  pip_check: { ok: boolean; output: string } | null;
}

export interface IEnvironmentList {
  environments: IEnvironment[];
  scanned_at: string | null;
  scanning: boolean;
  partial: boolean;
  roots: string[];
}

export type OperationAction = 'create' | 'sync' | 'add' | 'remove' | 'register';

export type OperationState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One long-running uv operation. */
export interface IOperation {
  id: string;
  action: OperationAction;
  env_id: string | null;
  path: string;
  state: OperationState;
  message: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  log_length: number;
  environment: IEnvironment | null;
}

export interface ILogLine {
  stream: string;
  line: string;
}

export interface IOperationPage {
  operation: IOperation;
  log: ILogLine[];
  next: number;
}

export interface IPython {
  version: string;
  path: string;
  implementation: string;
  source: string;
}

/** What the "New environment" form sends (`POST environments`). */
export interface ICreateRequest {
  path: string;
  kind: EnvironmentKind;
  python: string | null;
  packages: string[];
}

/** An operation as the client follows it: the server's record plus the log read so far. */
export interface ITrackedOperation {
  readonly operation: IOperation;
  readonly log: ReadonlyArray<ILogLine>;
  /** A display label, e.g. "add numpy to my-analysis". */
  readonly label: string;
  readonly finished: boolean;
}

/** The user-facing settings (schema/plugin.json). */
export interface IUvKernelsSettings {
  refreshInterval: number;
  showPlainVenvs: boolean;
  confirmDestructiveActions: boolean;
  operationPollInterval: number;
  keepFinishedOperations: number;
  /** Write `metadata.uv_kernels` on save (provenance.ts). */
  recordProvenance: boolean;
}

export const DEFAULT_SETTINGS: IUvKernelsSettings = {
  refreshInterval: 60,
  showPlainVenvs: true,
  confirmDestructiveActions: true,
  operationPollInterval: 0.5,
  keepFinishedOperations: 5,
  recordProvenance: true
};

/** The state of the panel: environments, operations, and the actions on them. */
export interface IUvKernelsModel {
  readonly environments: ReadonlyArray<IEnvironment>;
  readonly roots: ReadonlyArray<string>;
  readonly scanning: boolean;
  readonly partial: boolean;
  readonly scannedAt: string | null;
  /** The last error met while listing, or null. */
  readonly error: string | null;
  readonly operations: ReadonlyArray<ITrackedOperation>;
  settings: IUvKernelsSettings;

  /** Emitted when the list, the scan state or the settings change. */
  readonly changed: ISignal<IUvKernelsModel, void>;
  /** Emitted whenever one operation advances (state or log). */
  readonly operationChanged: ISignal<IUvKernelsModel, ITrackedOperation>;
  /** Emitted once when an operation is accepted by the server. */
  readonly operationStarted: ISignal<IUvKernelsModel, ITrackedOperation>;
  /** Emitted once when an operation reaches a final state. */
  readonly operationFinished: ISignal<IUvKernelsModel, ITrackedOperation>;
  /** Emitted when the set of kernelspecs on disk has (probably) changed. */
  readonly kernelsChanged: ISignal<IUvKernelsModel, void>;

  fetchEnvironments(): Promise<void>;
  refresh(): Promise<void>;
  details(id: string): Promise<IEnvironmentDetails>;
  pythons(): Promise<IPython[]>;
  create(request: ICreateRequest): Promise<ITrackedOperation>;
  sync(env: IEnvironment): Promise<ITrackedOperation>;
  addPackages(env: IEnvironment, packages: string[]): Promise<ITrackedOperation>;
  removePackage(env: IEnvironment, name: string): Promise<ITrackedOperation>;
  registerKernel(env: IEnvironment): Promise<ITrackedOperation>;
  unregisterKernel(env: IEnvironment): Promise<IEnvironment>;
  cancel(opId: string): Promise<void>;
  dismiss(opId: string): void;
}

export const IUvKernels = new Token<IUvKernelsModel>(
  'jupyter-uv-kernels:IUvKernels',
  'The uv environments known to the server, and the operations running on them.'
);
