/**
 * The model and the input checks, without a browser or a server: a scripted transport
 * stands in for the REST API (node's built-in test runner; `jlpm test`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { failureSummary, UvKernelsModel } from '../src/model';
import { IEnvironment, IOperation, ITrackedOperation } from '../src/tokens';
import {
  joinEnvironmentPath,
  parseRequirements,
  relativeToServerRoot,
  splitRequirements,
  validateEnvironmentName,
  validateSubfolder
} from '../src/validate';

function env(name: string, extra: Partial<IEnvironment> = {}): IEnvironment {
  return {
    id: `id-${name}`,
    name,
    path: `/work/${name}`,
    kind: 'project',
    venv: `/work/${name}/.venv`,
    python: '3.12.4',
    has_ipykernel: true,
    status: 'ready',
    kernel: `uv-${name}-00000000`,
    problem: null,
    root: '/work',
    relpath: name,
    interpreter: `/work/${name}/.venv/bin/python`,
    uv_managed: true,
    workspace_members: [],
    ...extra
  };
}

function op(id: string, state: IOperation['state'], extra: Partial<IOperation> = {}): IOperation {
  return {
    id,
    action: 'add',
    env_id: 'id-a',
    path: '/work/a',
    state,
    message: null,
    created_at: null,
    started_at: null,
    finished_at: null,
    log_length: 0,
    environment: null,
    ...extra
  };
}

type Handler = (init?: RequestInit) => unknown;

/** A fake REST API: each endpoint answers from a queue (the last answer repeats). */
class FakeServer {
  calls: { endpoint: string; init?: RequestInit }[] = [];
  private routes = new Map<string, Handler[]>();

  on(endpoint: string, ...handlers: Handler[]): this {
    this.routes.set(endpoint, handlers);
    return this;
  }

  request = async <T>(endpoint: string, init?: RequestInit): Promise<T> => {
    this.calls.push({ endpoint, init });
    const handlers = this.routes.get(endpoint);
    if (!handlers) {
      throw Object.assign(new Error(`no route ${endpoint}`), { status: 404 });
    }
    const handler = handlers.length > 1 ? handlers.shift()! : handlers[0];
    return handler(init) as T;
  };

  count(endpoint: string): number {
    return this.calls.filter(c => c.endpoint === endpoint).length;
  }
}

function listing(envs: IEnvironment[], scanning = false) {
  return () => ({
    environments: envs,
    scanned_at: '2025-01-01T00:00:00Z',
    scanning,
    partial: false,
    roots: ['/work']
  });
}

function finished(model: UvKernelsModel): Promise<ITrackedOperation> {
  return new Promise(resolve => {
    const done = (_: unknown, tracked: ITrackedOperation): void => {
      model.operationFinished.disconnect(done);
      resolve(tracked);
    };
    model.operationFinished.connect(done);
  });
}

const fast = { operationPollInterval: 0.01, refreshInterval: 0 };

test('the list is read and changed is emitted', async () => {
  const server = new FakeServer().on('environments', listing([env('a'), env('b')]));
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  let changes = 0;
  model.changed.connect(() => changes++);
  await model.fetchEnvironments();
  assert.deepEqual(
    model.environments.map(e => e.name),
    ['a', 'b']
  );
  assert.deepEqual(model.roots, ['/work']);
  assert.equal(model.scanning, false);
  assert.equal(changes, 1);
  model.dispose();
});

test('a re-read list with other kernels announces them (a check found a terminal env)', async () => {
  const server = new FakeServer().on(
    'environments',
    listing([env('a')]),
    listing([env('a')]),
    listing([env('a'), env('b', { kernel: 'uv-b-12345678' })]),
    listing([env('a')])
  );
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  let kernels = 0;
  model.kernelsChanged.connect(() => kernels++);
  await model.fetchEnvironments();
  await model.fetchEnvironments();
  assert.equal(kernels, 0, 'the first read and an unchanged one announce nothing');
  await model.fetchEnvironments();
  assert.equal(kernels, 1);
  await model.fetchEnvironments();
  assert.equal(kernels, 2, 'an env deleted in a terminal changes the kernels too');
  model.dispose();
});

test('while the server scans, the list is re-read until the scan ends', async () => {
  const server = new FakeServer().on(
    'environments',
    listing([], true),
    listing([env('a')], true),
    listing([env('a'), env('b')], false)
  );
  const model = new UvKernelsModel({
    request: server.request,
    settings: fast,
    scanningPollInterval: 5
  });
  await model.fetchEnvironments();
  assert.equal(model.scanning, true);
  await new Promise<void>(resolve => {
    model.changed.connect(() => {
      if (!model.scanning) {
        resolve();
      }
    });
  });
  assert.equal(server.count('environments'), 3);
  assert.equal(model.environments.length, 2);
  model.dispose();
});

test('a look follows the check it started for a few reads, and the launcher hears of a new kernel', async () => {
  const checking = (envs: IEnvironment[], isChecking: boolean) => () => ({
    ...listing(envs)(),
    checking: isChecking
  });
  const server = new FakeServer().on(
    'environments',
    checking([env('a')], false),
    checking([env('a')], true),
    checking([env('a'), env('b')], true)
  );
  const model = new UvKernelsModel({
    request: server.request,
    settings: fast,
    scanningPollInterval: 5
  });
  await model.fetchEnvironments();
  let kernels = 0;
  model.kernelsChanged.connect(() => kernels++);
  await model.look();
  // The server keeps saying "checking" (every read is a look): the model stops after 5 more.
  await new Promise(resolve => setTimeout(resolve, 100));
  assert.equal(server.count('environments'), 1 + 1 + 5);
  assert.equal(model.environments.length, 2);
  assert.equal(kernels, 1);
  model.dispose();
});

test('a listing error is kept as the error, not thrown', async () => {
  const server = new FakeServer().on('environments', () => {
    throw new Error('Cannot reach the Jupyter server');
  });
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await model.fetchEnvironments();
  assert.equal(model.error, 'Cannot reach the Jupyter server');
  model.dispose();
});

test('an operation is followed: log read from the offset, record replaced, kernels refreshed', async () => {
  const updated = env('a', { status: 'ready', python: '3.13.0' });
  const server = new FakeServer()
    .on('environments', listing([env('a', { status: 'out-of-sync' })]))
    .on('environments/id-a/packages', () => ({ operation: op('op1', 'queued') }))
    .on('operations/op1?since=0', () => ({
      operation: op('op1', 'running', { log_length: 2 }),
      log: [
        { stream: 'stderr', line: 'Resolved 1 package' },
        { stream: 'stderr', line: 'Prepared 1 package' }
      ],
      next: 2
    }))
    .on('operations/op1?since=2', () => ({
      operation: op('op1', 'succeeded', { log_length: 3, environment: updated }),
      log: [{ stream: 'stderr', line: 'Installed 1 package' }],
      next: 3
    }));
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await model.fetchEnvironments();
  let kernels = 0;
  model.kernelsChanged.connect(() => kernels++);
  const started: string[] = [];
  model.operationStarted.connect((_, t) => started.push(t.label));
  const done = finished(model);
  const tracked = await model.addPackages(model.environments[0], ['numpy>=2', 'pkg @ file:///x']);
  assert.deepEqual(started, ['Add numpy>=2, pkg to a']);
  const body = JSON.parse(
    String(server.calls.find(c => c.endpoint === 'environments/id-a/packages')!.init!.body)
  );
  assert.deepEqual(body, { packages: ['numpy>=2', 'pkg @ file:///x'] });
  const result = await done;
  assert.equal(result, tracked);
  assert.equal(result.operation.state, 'succeeded');
  assert.deepEqual(
    result.log.map(l => l.line),
    ['Resolved 1 package', 'Prepared 1 package', 'Installed 1 package']
  );
  assert.equal(kernels, 1);
  assert.equal(model.environments[0].python, '3.13.0');
  model.dispose();
});

test('several operations are followed at once, each to its own end', async () => {
  const server = new FakeServer()
    .on('environments', listing([env('a'), env('b', { id: 'id-b' })]))
    .on('environments/id-a/sync', () => ({ operation: op('s1', 'running', { action: 'sync' }) }))
    .on('environments/id-b/sync', () => ({
      operation: op('s2', 'running', { action: 'sync', env_id: 'id-b' })
    }))
    .on(
      'operations/s1?since=0',
      () => ({ operation: op('s1', 'running', { action: 'sync' }), log: [], next: 0 }),
      () => ({
        operation: op('s1', 'failed', { action: 'sync', message: '`uv sync` failed: boom' }),
        log: [],
        next: 0
      })
    )
    .on('operations/s2?since=0', () => ({
      operation: op('s2', 'succeeded', { action: 'sync', env_id: 'id-b' }),
      log: [],
      next: 0
    }));
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await model.fetchEnvironments();
  const ends: string[] = [];
  const both = new Promise<void>(resolve => {
    model.operationFinished.connect((_, t) => {
      ends.push(`${t.operation.id}:${t.operation.state}`);
      if (ends.length === 2) {
        resolve();
      }
    });
  });
  await model.sync(model.environments[0]);
  await model.sync(model.environments[1]);
  assert.equal(model.operations.length, 2);
  await both;
  assert.deepEqual(ends.sort(), ['s1:failed', 's2:succeeded']);
  model.dispose();
});

test('cancel sends DELETE and the operation ends cancelled', async () => {
  let cancelled = false;
  const server = new FakeServer()
    .on('environments', listing([env('a')]))
    .on('environments/id-a/sync', () => ({ operation: op('c1', 'running', { action: 'sync' }) }))
    .on('operations/c1', init => {
      assert.equal(init?.method, 'DELETE');
      cancelled = true;
      return { operation: op('c1', 'cancelled', { action: 'sync' }) };
    })
    .on('operations/c1?since=0', () => ({
      operation: op('c1', cancelled ? 'cancelled' : 'running', { action: 'sync' }),
      log: [],
      next: 0
    }));
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await model.fetchEnvironments();
  let kernels = 0;
  model.kernelsChanged.connect(() => kernels++);
  const done = finished(model);
  const tracked = await model.sync(model.environments[0]);
  await model.cancel(tracked.operation.id);
  assert.equal((await done).operation.state, 'cancelled');
  assert.equal(kernels, 0);
  model.dispose();
});

test('an operation the server forgot (404) ends failed with a reason', async () => {
  const server = new FakeServer()
    .on('environments', listing([env('a')]))
    .on('environments/id-a/kernel', () => ({
      operation: op('g1', 'queued', { action: 'register' })
    }));
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  const done = finished(model);
  await model.registerKernel(env('a'));
  const tracked = await done;
  assert.equal(tracked.operation.state, 'failed');
  assert.match(tracked.operation.message!, /no longer knows/);
  model.dispose();
});

test('a refused request rejects with the server error and starts nothing', async () => {
  const server = new FakeServer().on('environments', () => {
    throw Object.assign(new Error("'-e' looks like a command-line option"), { status: 400 });
  });
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await assert.rejects(
    model.create({ path: '/work/x', kind: 'venv', python: null, packages: ['-e'] }),
    /command-line option/
  );
  assert.equal(model.operations.length, 0);
  model.dispose();
});

test('only the newest finished operations are kept', async () => {
  const server = new FakeServer().on('environments', listing([env('a')]));
  for (const id of ['k1', 'k2', 'k3']) {
    server.on(`environments/id-${id}/sync`, () => ({ operation: op(id, 'running') }));
    server.on(`operations/${id}?since=0`, () => ({
      operation: op(id, 'succeeded'),
      log: [],
      next: 0
    }));
  }
  const model = new UvKernelsModel({
    request: server.request,
    settings: { ...fast, keepFinishedOperations: 2 }
  });
  for (const id of ['k1', 'k2', 'k3']) {
    const done = finished(model);
    await model.sync(env(id, { id: `id-${id}` }));
    await done;
  }
  assert.deepEqual(
    model.operations.map(t => t.operation.id),
    ['k2', 'k3']
  );
  model.dispose();
});

test('unregister replaces the record and refreshes kernels', async () => {
  const server = new FakeServer()
    .on('environments', listing([env('a')]))
    .on('environments/id-a/kernel', init => {
      assert.equal(init?.method, 'DELETE');
      return { environment: env('a', { kernel: null }), removed: ['uv-a-00000000'] };
    });
  const model = new UvKernelsModel({ request: server.request, settings: fast });
  await model.fetchEnvironments();
  let kernels = 0;
  model.kernelsChanged.connect(() => kernels++);
  await model.unregisterKernel(model.environments[0]);
  assert.equal(model.environments[0].kernel, null);
  assert.equal(kernels, 1);
  model.dispose();
});

test("failure summaries drop the uv command line and add uv's cause", () => {
  const tracked = {
    operation: op('f', 'failed', {
      message: '`uv add --project /work/a -- nope==1` failed: Failed to add dependencies'
    }),
    log: [
      { stream: 'stderr', line: 'error: Failed to add dependencies' },
      { stream: 'stderr', line: '  cause: No solution found when resolving dependencies' },
      { stream: 'stderr', line: '  cause: Because nope was not found in the package registry, …' }
    ],
    label: 'Add nope==1 to a',
    finished: true
  };
  assert.equal(
    failureSummary(tracked),
    'Failed to add dependencies: Because nope was not found in the package registry, …'
  );
  assert.equal(failureSummary({ ...tracked, log: [] }), 'Failed to add dependencies');
});

test('requirements are split on whitespace and commas, but not inside specifiers', () => {
  assert.deepEqual(splitRequirements('numpy xarray[io,parallel]  pandas,scipy'), [
    'numpy',
    'xarray[io,parallel]',
    'pandas',
    'scipy'
  ]);
  assert.deepEqual(splitRequirements('numpy>=1.26,<3 netCDF4 >= 1.6'), [
    'numpy>=1.26,<3',
    'netCDF4>=1.6'
  ]);
  assert.deepEqual(splitRequirements('pkg @ file:///tmp/pkg'), ['pkg@file:///tmp/pkg']);
  assert.deepEqual(parseRequirements('numpy  xarray>=2024.1').requirements, [
    'numpy',
    'xarray>=2024.1'
  ]);
});

test('option-shaped and malformed requirements are refused with a reason', () => {
  const options = parseRequirements('--index-url=https://evil.example/simple numpy');
  assert.deepEqual(options.requirements, ['numpy']);
  assert.match(options.errors[0], /looks like a command-line option/);
  assert.match(parseRequirements('numpy>>2').errors[0], /not a valid requirement/);
  assert.match(parseRequirements('-e .').errors[0], /command-line option/);
});

test('environment names and subfolders are checked before sending', () => {
  assert.equal(validateEnvironmentName('my-analysis'), null);
  assert.match(validateEnvironmentName('')!, /name/);
  assert.match(validateEnvironmentName('a/b')!, /cannot contain "\/"/);
  assert.match(validateEnvironmentName('-rf')!, /cannot start with "-"/);
  assert.match(validateEnvironmentName('..')!, /not a usable name/);
  assert.equal(validateSubfolder('projects/2025'), null);
  assert.match(validateSubfolder('../elsewhere')!, /\.\./);
  assert.equal(
    joinEnvironmentPath('/glade/work/jdoe/', '/projects//2025/', ' x '),
    '/glade/work/jdoe/projects/2025/x'
  );
});

test('paths under the server root map to file browser paths; others do not', () => {
  assert.equal(relativeToServerRoot('/home/u/work/a', '/home/u'), 'work/a');
  assert.equal(relativeToServerRoot('/home/u', '/home/u/'), '');
  assert.equal(relativeToServerRoot('/home/user2/a', '/home/u'), null);
  assert.equal(relativeToServerRoot('/glade/work/a', '/'), 'glade/work/a');
  assert.equal(relativeToServerRoot('/x', ''), null);
});

test("a long failure summary leads with uv's cause so the toast shows it", () => {
  const long = 'x'.repeat(150);
  const tracked = {
    operation: {
      message: `\`uv add --project p -- nope\` failed: ${long}: Because nope was not found`
    },
    log: [{ stream: 'stderr', line: '  cause: Because nope was not found' }]
  } as unknown as ITrackedOperation;
  assert.equal(failureSummary(tracked), 'Because nope was not found');
});

test('the periodic re-read runs only while a view of the list is shown (a read is a look)', async () => {
  const server = new FakeServer().on('environments', listing([env('a')]));
  const model = new UvKernelsModel({
    request: server.request,
    settings: { ...fast, refreshInterval: 0.01 }
  });
  let sidebarShown = false;
  const watching = model.environmentsModel.watch(() => sidebarShown);
  await model.environmentsModel.start();
  await new Promise(resolve => setTimeout(resolve, 80));
  assert.equal(server.count('environments'), 1, 'the sidebar is closed: only the first read');

  sidebarShown = true;
  model.environmentsModel.shown();
  assert.equal(server.count('environments'), 2, 'opening the sidebar reads the skipped tick now');
  await new Promise(resolve => setTimeout(resolve, 80));
  assert.ok(server.count('environments') >= 4, 'shown: the periodic re-read runs again');

  watching.dispose();
  sidebarShown = false;
  const before = server.count('environments');
  await new Promise(resolve => setTimeout(resolve, 50));
  assert.ok(server.count('environments') > before, 'no view registered: always re-read');
  model.dispose();
});
