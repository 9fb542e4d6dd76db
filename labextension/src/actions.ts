/**
 * The actions that change environments. Each one asks the server (through the shared
 * client) and hands the accepted uv run to the operations model to follow; a refused
 * request rejects with the server's error (`UvKernelsError`: status and message).
 */
import type { UvKernelsClient } from './api';
import { basename, shortRequirement } from './operations';
import {
  ICreateRequest,
  IEnvironment,
  IEnvironmentActions,
  IEnvironmentsModel,
  IOperationsModel,
  IPackageSource,
  ITrackedOperation
} from './tokens';

export namespace EnvironmentActions {
  export interface IOptions {
    client: UvKernelsClient;
    environments: IEnvironmentsModel;
    operations: IOperationsModel;
  }
}

export class EnvironmentActions implements IEnvironmentActions {
  constructor(options: EnvironmentActions.IOptions) {
    this._client = options.client;
    this._environments = options.environments;
    this._operations = options.operations;
  }

  async create(request: ICreateRequest): Promise<ITrackedOperation> {
    const kind = request.kind === 'venv' ? 'venv' : 'project';
    const op = await this._client.create(request);
    return this._operations.track(op, `Create ${kind} ${basename(request.path)}`);
  }

  async sync(env: IEnvironment, options: { relock?: boolean } = {}): Promise<ITrackedOperation> {
    const op = await this._client.sync(env.id, !!options.relock);
    return this._operations.track(op, `${options.relock ? 'Relock and sync' : 'Sync'} ${env.name}`);
  }

  async addPackages(
    env: IEnvironment,
    packages: string[],
    source: IPackageSource = {}
  ): Promise<ITrackedOperation> {
    const op = await this._client.addPackages(env.id, packages, source);
    const what = packages.map(shortRequirement);
    if (source.requirements_file) {
      what.push(`-r ${basename(source.requirements_file)}`);
    }
    return this._operations.track(op, `Add ${what.join(', ')} to ${env.name}`);
  }

  async removePackage(
    env: IEnvironment,
    name: string,
    options: { force?: boolean } = {}
  ): Promise<ITrackedOperation> {
    const op = await this._client.removePackage(env.id, name, !!options.force);
    return this._operations.track(op, `Remove ${name} from ${env.name}`);
  }

  async registerKernel(env: IEnvironment): Promise<ITrackedOperation> {
    const op = await this._client.registerKernel(env.id);
    return this._operations.track(op, `Register kernel for ${env.name}`);
  }

  async unregisterKernel(env: IEnvironment): Promise<IEnvironment> {
    const reply = await this._client.unregisterKernel(env.id);
    this._environments.settle(reply.environment, { kernelsChanged: true });
    return reply.environment;
  }

  // -- environment manager (issue 12): view

  /** Upgrade these packages (none named: every package) within the constraints. */
  async upgrade(env: IEnvironment, packages: string[] = []): Promise<ITrackedOperation> {
    const op = await this._client.upgrade(env.id, packages);
    const what = packages.length ? packages.join(', ') : 'all packages';
    return this._operations.track(op, `Upgrade ${what} in ${env.name}`);
  }

  /** Delete the venv (a project: only its .venv); `force` even while its kernel runs. */
  async deleteEnvironment(
    env: IEnvironment,
    options: { force?: boolean } = {}
  ): Promise<ITrackedOperation> {
    const op = await this._client.deleteEnvironment(env.id, !!options.force);
    const what = env.kind === 'project' ? `the .venv of ${env.name}` : env.name;
    return this._operations.track(op, `Delete ${what}`);
  }

  /** Copy `env` into the new folder `path` and sync the copy. */
  async copyEnvironment(env: IEnvironment, path: string): Promise<ITrackedOperation> {
    const op = await this._client.copyEnvironment(env.id, path);
    return this._operations.track(op, `Copy ${env.name} to ${basename(path)}`);
  }

  private _client: UvKernelsClient;
  private _environments: IEnvironmentsModel;
  private _operations: IOperationsModel;
}
