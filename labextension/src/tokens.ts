/**
 * The data shapes of the jupyter_uv_kernels REST API and the model's public interface.
 *
 * The shapes mirror ARCHITECTURE §3 and §6 exactly; the server is the source of truth.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
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
  /** The folder is not writable by this user: no Sync, Add, Remove, Upgrade or Delete; Copy. */
  read_only?: boolean;
}

export interface IPackage {
  name: string;
  version: string;
  /**
   * Projects only: named in pyproject.toml (its dependencies, a dependency group or an
   * extra). Only direct dependencies can be removed. Absent for venvs.
   */
  direct?: boolean;
  /** Projects only: where pyproject.toml asks for it: "project", "dev", "extra:NAME", … */
  groups?: string[];
  /** Projects only: the project's own package (never removable). */
  project?: boolean;
}

/** `GET environments/{id}`: the record plus the on-demand checks. */
export interface IEnvironmentDetails extends IEnvironment {
  packages: IPackage[];
  packages_error?: string;
  drift: { checked: boolean; in_sync: boolean | null; output: string } | null;
  pip_check: { ok: boolean; output: string } | null;
  /** Indexes an add may name: UvKernels.indexes and the project's own [[tool.uv.index]]. */
  indexes?: IIndex[];
}

export interface IEnvironmentList {
  environments: IEnvironment[];
  scanned_at: string | null;
  scanning: boolean;
  /** A cheap server-side check (started by a look such as this read) is running or due. */
  checking?: boolean;
  partial: boolean;
  roots: string[];
}

export type OperationAction =
  'create' | 'sync' | 'add' | 'remove' | 'register' | 'upgrade' | 'delete' | 'copy';

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

/** One package with a newer release (`GET environments/{id}/outdated`). */
export interface IOutdatedPackage {
  name: string;
  installed: string;
  /** Newest release on the index. */
  latest: string | null;
  /** What Upgrade would install within pyproject's constraints; null: held where it is. */
  allowed: string | null;
  direct: boolean;
}

export interface IOutdatedReply {
  packages: IOutdatedPackage[];
  checked_at: string;
  cached: boolean;
  /** Projects: why `allowed` is unknown for every package (the dry-run lock failed). */
  problem?: string | null;
}

/** A package in the dependency tree; inverted trees list what requires it instead. */
export interface ITreeNode {
  name: string;
  version: string | null;
  dependencies: ITreeNode[];
  /** Shown in full elsewhere in the tree; its dependencies are left out here. */
  repeated?: boolean;
  extra?: string | null;
}

export interface ITreeGroup {
  /** main, a dependency group (dev, …), installed (venvs) or required-by (inverted). */
  name: string;
  dependencies: ITreeNode[];
}

export interface ITreeReply {
  groups: ITreeGroup[];
  inverted: boolean;
  package?: string | null;
}

export type ExportFormat = 'requirements.txt' | 'pylock.toml';

export interface IExportReply {
  format: ExportFormat;
  filename: string;
  content: string;
}

export interface IExportSaved {
  path: string;
  bytes: number;
}

/** Disk use of a venv; `complete` false: the time budget ran out, `bytes` is a lower bound. */
export interface ISizeReply {
  path: string;
  bytes: number;
  files: number;
  complete: boolean;
  seconds: number;
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
  /** A requirements file inside the roots (`uv add -r` / `uv pip install -r`). */
  requirements_file?: string | null;
  /** The name of an index of UvKernels.indexes. */
  index?: string | null;
}

/** Where an add takes packages from besides its list (issue 12). */
export interface IPackageSource {
  /** A requirements file inside the roots. */
  requirements_file?: string | null;
  /** The name of an index (UvKernels.indexes, or one the project's pyproject names). */
  index?: string | null;
}

/** A named package index (`GET indexes`, and `indexes` of an environment's details). */
export interface IIndex {
  name: string;
  url: string;
  /** "config": UvKernels.indexes; "pyproject": the project's own [[tool.uv.index]]. */
  source: 'config' | 'pyproject';
}

/** One entry of a folder listing (`GET files`). */
export interface IFileEntry {
  name: string;
  /** Absolute path, inside a root. */
  path: string;
  kind: 'directory' | 'file';
}

/** One folder inside the roots (`GET files?path=`); `path` null: the roots themselves. */
export interface IFileListing {
  path: string | null;
  /** Its parent when that is inside the roots, else null. */
  parent: string | null;
  entries: IFileEntry[];
  truncated?: boolean;
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

/**
 * The environments under the roots: the list, the scan state and the details of one.
 * Shared by every view that shows environments.
 */
export interface IEnvironmentsModel {
  readonly environments: ReadonlyArray<IEnvironment>;
  readonly roots: ReadonlyArray<string>;
  readonly scanning: boolean;
  readonly partial: boolean;
  /** When the server last scanned the roots (ISO time), or null before the first scan. */
  readonly scannedAt: string | null;
  /**
   * When the list last changed: the last scan, or later, the last time an operation or
   * an unregister brought a new record of one environment (ISO time).
   */
  readonly updatedAt: string | null;
  /** The last error met while listing, or null. */
  readonly error: string | null;
  /** True once the first list has arrived (or failed). */
  readonly loaded: boolean;

  /** Emitted when the list or the scan state changes. */
  readonly changed: ISignal<IEnvironmentsModel, void>;
  /** Emitted when the set of kernelspecs on disk has (probably) changed. */
  readonly kernelsChanged: ISignal<IEnvironmentsModel, void>;

  /** The record of one environment in the current list. */
  environment(id: string): IEnvironment | undefined;
  /** Re-read the list; keeps re-reading while the server scans. */
  fetch(): Promise<void>;
  /** A look (a launcher opened): read now and follow the check it starts, briefly. */
  look(): Promise<void>;
  /**
   * Register a view of the list; periodic re-reads run only while one is shown (with
   * none registered, always). Dispose the result when the view goes.
   */
  watch(isShown: () => boolean): IDisposable;
  /** A registered view was shown: read now if a periodic read was skipped meanwhile. */
  shown(): void;
  /** Ask the server to rescan now, then follow the scan. */
  refresh(): Promise<void>;
  details(id: string): Promise<IEnvironmentDetails>;
  pythons(): Promise<IPython[]>;
  /** One folder inside the roots (null: the roots), for the requirements-file picker. */
  files(path: string | null): Promise<IFileListing>;
  /** The named indexes the server is configured with (UvKernels.indexes). */
  indexes(): Promise<IIndex[]>;
  /**
   * Put a fresh record of one environment into the list (from a finished operation or an
   * unregister); `at` is when it was made (ISO time, default now).
   */
  settle(env: IEnvironment, options?: { kernelsChanged?: boolean; at?: string | null }): void;
}

/** The uv operations being followed: their state, their logs, cancel. */
export interface IOperationsModel {
  readonly operations: ReadonlyArray<ITrackedOperation>;
  /** Emitted when an operation is added or dropped. */
  readonly changed: ISignal<IOperationsModel, void>;
  /** Emitted whenever one operation advances (state or log). */
  readonly operationChanged: ISignal<IOperationsModel, ITrackedOperation>;
  /** Emitted once when an operation is accepted by the server (or adopted). */
  readonly operationStarted: ISignal<IOperationsModel, ITrackedOperation>;
  /** Emitted once when an operation reaches a final state. */
  readonly operationFinished: ISignal<IOperationsModel, ITrackedOperation>;

  /** Follow an operation the server accepted; returns the one already followed if any. */
  track(operation: IOperation, label: string): ITrackedOperation;
  /** Follow the operations that were running before this page loaded. */
  adoptRunning(): Promise<void>;
  /** Whether an operation on this environment is queued or running. */
  isBusy(env: IEnvironment): boolean;
  cancel(opId: string): Promise<void>;
  /** Forget a finished operation. */
  dismiss(opId: string): void;
}

/** The actions that change environments; each uv run is followed by the operations model. */
export interface IEnvironmentActions {
  create(request: ICreateRequest): Promise<ITrackedOperation>;
  /** `uv sync --frozen`, or with `relock` `uv sync` (which may update uv.lock). */
  sync(env: IEnvironment, options?: { relock?: boolean }): Promise<ITrackedOperation>;
  /** `source`: a requirements file and/or a named index to add from. */
  addPackages(
    env: IEnvironment,
    packages: string[],
    source?: IPackageSource
  ): Promise<ITrackedOperation>;
  /** `force`: venvs only, remove even when other installed packages require it. */
  removePackage(
    env: IEnvironment,
    name: string,
    options?: { force?: boolean }
  ): Promise<ITrackedOperation>;
  registerKernel(env: IEnvironment): Promise<ITrackedOperation>;
  unregisterKernel(env: IEnvironment): Promise<IEnvironment>;
  // -- environment manager (issue 12): view
  /** Upgrade these packages (none named: every package) within the constraints. */
  upgrade(env: IEnvironment, packages?: string[]): Promise<ITrackedOperation>;
  /** Delete the venv (a project: only .venv); `force` even while a kernel of it runs. */
  deleteEnvironment(env: IEnvironment, options?: { force?: boolean }): Promise<ITrackedOperation>;
  /** Copy the environment into the new folder `path`, then sync the copy. */
  copyEnvironment(env: IEnvironment, path: string): Promise<ITrackedOperation>;
}

/**
 * The state of the panel: environments, operations, and the actions on them, as one
 * façade over the three models (which views may also use on their own).
 */
export interface IUvKernelsModel extends IEnvironmentActions {
  readonly environmentsModel: IEnvironmentsModel;
  readonly operationsModel: IOperationsModel;
  readonly actions: IEnvironmentActions;

  readonly environments: ReadonlyArray<IEnvironment>;
  readonly roots: ReadonlyArray<string>;
  readonly scanning: boolean;
  readonly partial: boolean;
  readonly scannedAt: string | null;
  /** The last error met while listing, or null. */
  readonly error: string | null;
  readonly operations: ReadonlyArray<ITrackedOperation>;
  settings: IUvKernelsSettings;

  /** Emitted when the list, the scan state, the set of operations or the settings change. */
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
  /** A look (a launcher opened): the server checks for terminal-made environments. */
  look(): Promise<void>;
  refresh(): Promise<void>;
  details(id: string): Promise<IEnvironmentDetails>;
  pythons(): Promise<IPython[]>;
  cancel(opId: string): Promise<void>;
  dismiss(opId: string): void;
}

export const IUvKernels = new Token<IUvKernelsModel>(
  'jupyter-uv-kernels:IUvKernels',
  'The uv environments known to the server, and the operations running on them.'
);
