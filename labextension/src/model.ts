/**
 * The panel's state as one object: a façade over the environments model, the operations
 * model and the actions, which share one API client. Views may use the three models on
 * their own (`environmentsModel`, `operationsModel`, `actions`); this class wires them
 * together, applies the settings and keeps the signals of the `IUvKernels` token.
 *
 * No React and no JupyterLab UI here; the transport is injected, so the models run (and
 * can be tested) without a browser.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { RequestFunction, UvKernelsClient } from './api';
import { EnvironmentActions } from './actions';
import { EnvironmentsModel } from './environments';
import { OperationsModel } from './operations';
import {
  DEFAULT_SETTINGS,
  ICreateRequest,
  IEnvironment,
  IEnvironmentDetails,
  IPackageSource,
  IPython,
  ITrackedOperation,
  IUvKernelsModel,
  IUvKernelsSettings
} from './tokens';

export { jsonBody } from './api';
export { basename, describeOperation, failureSummary, shortRequirement } from './operations';

export namespace UvKernelsModel {
  export interface IOptions {
    /** The transport: `requestAPI` in JupyterLab, a fake in unit tests. */
    request: RequestFunction;
    settings?: Partial<IUvKernelsSettings>;
    /** How often the list is re-read while the server scans, in ms (default 1000). */
    scanningPollInterval?: number;
  }
}

export class UvKernelsModel implements IUvKernelsModel {
  constructor(options: UvKernelsModel.IOptions) {
    this._settings = { ...DEFAULT_SETTINGS, ...(options.settings ?? {}) };
    this.client = new UvKernelsClient(options.request);
    this.environmentsModel = new EnvironmentsModel({
      client: this.client,
      refreshInterval: this._settings.refreshInterval,
      scanningPollInterval: options.scanningPollInterval
    });
    this.operationsModel = new OperationsModel({
      client: this.client,
      pollInterval: this._settings.operationPollInterval,
      keepFinished: this._settings.keepFinishedOperations
    });
    this.actions = new EnvironmentActions({
      client: this.client,
      environments: this.environmentsModel,
      operations: this.operationsModel
    });
    // First, so that every view sees an operation's record when it hears of its end.
    this.environmentsModel.followOperations(this.operationsModel);

    const envs = this.environmentsModel;
    const ops = this.operationsModel;
    envs.changed.connect(() => this._changed.emit());
    ops.changed.connect(() => this._changed.emit());
    envs.kernelsChanged.connect(() => this._kernelsChanged.emit());
    ops.operationChanged.connect((_, t) => this._operationChanged.emit(t));
    ops.operationStarted.connect((_, t) => this._operationStarted.emit(t));
    ops.operationFinished.connect((_, t) => this._operationFinished.emit(t));
  }

  /** The one API client the three models share. */
  readonly client: UvKernelsClient;
  readonly environmentsModel: EnvironmentsModel;
  readonly operationsModel: OperationsModel;
  readonly actions: EnvironmentActions;

  get environments(): ReadonlyArray<IEnvironment> {
    return this.environmentsModel.environments;
  }
  get roots(): ReadonlyArray<string> {
    return this.environmentsModel.roots;
  }
  get scanning(): boolean {
    return this.environmentsModel.scanning;
  }
  get partial(): boolean {
    return this.environmentsModel.partial;
  }
  get scannedAt(): string | null {
    return this.environmentsModel.scannedAt;
  }
  get error(): string | null {
    return this.environmentsModel.error;
  }
  /** True once the first list has arrived (or failed). */
  get loaded(): boolean {
    return this.environmentsModel.loaded;
  }
  get operations(): ReadonlyArray<ITrackedOperation> {
    return this.operationsModel.operations;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  get settings(): IUvKernelsSettings {
    return this._settings;
  }
  set settings(value: IUvKernelsSettings) {
    this._settings = { ...value };
    this.environmentsModel.refreshInterval = value.refreshInterval;
    this.operationsModel.pollInterval = value.operationPollInterval;
    this.operationsModel.keepFinished = value.keepFinishedOperations;
    this._changed.emit();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get operationChanged(): ISignal<this, ITrackedOperation> {
    return this._operationChanged;
  }
  get operationStarted(): ISignal<this, ITrackedOperation> {
    return this._operationStarted;
  }
  get operationFinished(): ISignal<this, ITrackedOperation> {
    return this._operationFinished;
  }
  get kernelsChanged(): ISignal<this, void> {
    return this._kernelsChanged;
  }

  /** Load the list, pick up operations already running on the server, start polling. */
  async start(): Promise<void> {
    await Promise.all([this.environmentsModel.start(), this.operationsModel.adoptRunning()]);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.environmentsModel.dispose();
    this.operationsModel.dispose();
    Signal.clearData(this);
  }

  fetchEnvironments(): Promise<void> {
    return this.environmentsModel.fetch();
  }
  look(): Promise<void> {
    return this.environmentsModel.look();
  }
  refresh(): Promise<void> {
    return this.environmentsModel.refresh();
  }
  details(id: string): Promise<IEnvironmentDetails> {
    return this.environmentsModel.details(id);
  }
  pythons(): Promise<IPython[]> {
    return this.environmentsModel.pythons();
  }
  /** The record of one environment in the current list. */
  environment(id: string): IEnvironment | undefined {
    return this.environmentsModel.environment(id);
  }

  create(request: ICreateRequest): Promise<ITrackedOperation> {
    return this.actions.create(request);
  }
  sync(env: IEnvironment, options?: { relock?: boolean }): Promise<ITrackedOperation> {
    return this.actions.sync(env, options);
  }
  addPackages(
    env: IEnvironment,
    packages: string[],
    source?: IPackageSource
  ): Promise<ITrackedOperation> {
    return this.actions.addPackages(env, packages, source);
  }
  removePackage(
    env: IEnvironment,
    name: string,
    options?: { force?: boolean }
  ): Promise<ITrackedOperation> {
    return this.actions.removePackage(env, name, options);
  }
  registerKernel(env: IEnvironment): Promise<ITrackedOperation> {
    return this.actions.registerKernel(env);
  }
  unregisterKernel(env: IEnvironment): Promise<IEnvironment> {
    return this.actions.unregisterKernel(env);
  }
  // -- environment manager (issue 12): view
  upgrade(env: IEnvironment, packages?: string[]): Promise<ITrackedOperation> {
    return this.actions.upgrade(env, packages);
  }
  deleteEnvironment(env: IEnvironment, options?: { force?: boolean }): Promise<ITrackedOperation> {
    return this.actions.deleteEnvironment(env, options);
  }
  copyEnvironment(env: IEnvironment, path: string): Promise<ITrackedOperation> {
    return this.actions.copyEnvironment(env, path);
  }
  cancel(opId: string): Promise<void> {
    return this.operationsModel.cancel(opId);
  }
  /** Forget a finished operation (the log view's close button). */
  dismiss(opId: string): void {
    this.operationsModel.dismiss(opId);
  }

  private _settings: IUvKernelsSettings;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _operationChanged = new Signal<this, ITrackedOperation>(this);
  private _operationStarted = new Signal<this, ITrackedOperation>(this);
  private _operationFinished = new Signal<this, ITrackedOperation>(this);
  private _kernelsChanged = new Signal<this, void>(this);
}
