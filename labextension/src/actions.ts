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

  private _client: UvKernelsClient;
  private _environments: IEnvironmentsModel;
  private _operations: IOperationsModel;
}
