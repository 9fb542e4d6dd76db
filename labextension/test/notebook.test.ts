/**
 * "This notebook" (issue 15) without a browser: the section's wording, which operations
 * concern which notebook, when the one-click switch and the restart are offered, and the
 * model driving an edit through a scripted REST API (node's test runner; `jlpm test`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { OperationsModel } from '../src/operations';
import { UvKernelsClient } from '../src/api';
import { INotebookDependencies, NotebookClient } from '../src/notebook/api';
import {
  buildProgressMessage,
  concernsNotebook,
  describeNotebookOperation,
  editLabel,
  latestLine,
  lockState,
  offersOneClick,
  offersRestart,
  requirementNames,
  resultText,
  summary
} from '../src/notebook/format';
import { blockIndex, editedParts, sameCellsBesideBlock } from '../src/notebook/document';
import { INotebookEdit, NotebookDepsModel } from '../src/notebook/model';
import { IOperation } from '../src/tokens';

function deps(extra: Partial<INotebookDependencies> = {}): INotebookDependencies {
  return {
    path: '/glade/work/me/demo/fig.ipynb',
    self_contained: true,
    requires_python: '>=3.11',
    dependencies: [
      { requirement: 'six==1.16.0', name: 'six', locked_version: '1.16.0' },
      { requirement: 'numpy>=2', name: 'numpy', locked_version: null }
    ],
    locked: true,
    environment: { key: '0123456789abcdef', built: false, path: '/scratch/envs/0123' },
    kernel: 'uv-script',
    problem: null,
    ...extra
  };
}

function op(id: string, state: IOperation['state'], extra: Partial<IOperation> = {}): IOperation {
  return {
    id,
    action: 'notebook-add' as IOperation['action'],
    env_id: null,
    path: '/glade/work/me/demo/fig.ipynb',
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

test('the one-click switch is offered for a good block on another kernel only', () => {
  assert.equal(offersOneClick(deps(), 'python3'), true);
  assert.equal(offersOneClick(deps(), null), true);
  assert.equal(offersOneClick(deps(), 'uv-script'), false);
  assert.equal(offersOneClick(deps({ self_contained: false }), 'python3'), false);
  assert.equal(offersOneClick(deps({ problem: 'The block is not valid TOML.' }), 'python3'), false);
  assert.equal(offersOneClick(null, 'python3'), false);
});

test('the summary says what the notebook carries, its lock and its env', () => {
  assert.equal(
    summary(deps()),
    '2 dependencies · Python >=3.11 · locked · environment not built yet'
  );
  assert.equal(
    summary(
      deps({
        requires_python: null,
        locked: false,
        dependencies: [{ requirement: 'six', name: 'six', locked_version: null }],
        environment: { key: 'k', built: true, path: '/p' }
      })
    ),
    '1 dependency · not locked · environment built'
  );
  assert.match(summary(deps({ self_contained: false })), /No inline dependencies/);
});

test('each dependency says what the lock pins', () => {
  const [six, numpy] = deps().dependencies;
  assert.equal(lockState(six, true), '1.16.0');
  assert.equal(lockState(numpy, true), 'not in the lock');
  assert.equal(lockState(numpy, false), 'not locked');
});

test('edit labels name the packages and the notebook', () => {
  const path = 'demo/fig.ipynb';
  assert.deepEqual(requirementNames(['numpy>=2', 'xarray[io] ; python_version>"3"']), [
    'numpy',
    'xarray'
  ]);
  assert.equal(editLabel('add', path, ['numpy>=2']), 'Add numpy to fig.ipynb');
  assert.equal(
    editLabel('add', path, ['a', 'b', 'c', 'd', 'e']),
    'Add a, b, c and 2 more to fig.ipynb'
  );
  assert.equal(editLabel('remove', path, ['six']), 'Remove six from fig.ipynb');
  assert.equal(editLabel('upgrade', path, []), 'Upgrade all of fig.ipynb');
  assert.equal(editLabel('upgrade', path, ['six']), 'Upgrade six in fig.ipynb');
  assert.equal(editLabel('lock', path, [], false), 'Lock fig.ipynb');
  assert.equal(editLabel('lock', path, [], true), 'Relock fig.ipynb');
  assert.equal(
    describeNotebookOperation(op('1', 'running', { action: 'build-notebook-env' as any })),
    'Build the environment of fig.ipynb'
  );
  assert.equal(describeNotebookOperation(op('1', 'running', { action: 'sync' })), null);
});

test('an operation concerns a notebook by real path or by its path under the root', () => {
  const real = '/glade/work/me/demo/fig.ipynb';
  assert.equal(concernsNotebook({ path: real }, 'demo/fig.ipynb', null), true);
  assert.equal(concernsNotebook({ path: real }, 'other/fig.ipynb', null), false);
  assert.equal(concernsNotebook({ path: real }, 'x.ipynb', real), true);
  assert.equal(concernsNotebook({ path: 'demo/fig.ipynb' }, 'demo/fig.ipynb', null), true);
  // "ig.ipynb" is not "fig.ipynb".
  assert.equal(concernsNotebook({ path: real }, 'ig.ipynb', null), false);
  assert.equal(concernsNotebook({ path: '' }, 'demo/fig.ipynb', null), false);
});

test("a build's notification shows uv's latest line, shortened", () => {
  const log = [
    { stream: 'stderr', line: 'Resolved 3 packages in 12ms' },
    { stream: 'stderr', line: 'Installed 3 packages in 5ms' },
    { stream: 'stderr', line: '   ' }
  ];
  assert.equal(latestLine(log), 'Installed 3 packages in 5ms');
  assert.equal(latestLine([]), '');
  assert.equal(latestLine([{ stream: 'stdout', line: 'x'.repeat(300) }]).length, 120);
  assert.equal(
    buildProgressMessage('/w/fig.ipynb', log),
    'Building the environment of fig.ipynb (first start of its dependencies)…\n' +
      'Installed 3 packages in 5ms'
  );
  assert.doesNotMatch(buildProgressMessage('/w/fig.ipynb', []), /\n/);
});

test('a restart is offered after a successful dependency change on uv-script only', () => {
  assert.equal(offersRestart('add', 'succeeded', 'uv-script'), true);
  assert.equal(offersRestart('lock', 'succeeded', 'uv-script'), true);
  assert.equal(offersRestart('add', 'failed', 'uv-script'), false);
  assert.equal(offersRestart('add', 'succeeded', 'python3'), false);
  assert.equal(offersRestart('project', 'succeeded', 'uv-script'), false);
});

test("a conversion's result is told in one line", () => {
  const done = op('1', 'succeeded', {
    message: 'Added 2 dependencies from imports; no installed package provides: mylocal.'
  });
  const result = { source: 'imports', added: ['numpy', 'six'], unmapped_imports: ['mylocal'] };
  // The server's sentence says it all: nothing is repeated.
  assert.equal(resultText({ ...done, result }), done.message);
  assert.equal(
    resultText({ ...done, message: null, result }),
    '2 dependencies taken from the imports. No installed package provides: mylocal.'
  );
  assert.equal(
    resultText({
      ...done,
      message: '/w/demo is now a uv project.',
      result: { project: '/w/demo', kernel: 'uv-demo-1234abcd' }
    }),
    '/w/demo is now a uv project. Its kernel: uv-demo-1234abcd.'
  );
});

/** A fake REST API: each endpoint answers from a queue (the last answer repeats). */
class FakeServer {
  calls: { endpoint: string; body?: unknown }[] = [];
  private routes = new Map<string, ((body?: any) => unknown)[]>();

  on(endpoint: string, ...handlers: ((body?: any) => unknown)[]): this {
    this.routes.set(endpoint, handlers);
    return this;
  }

  request = async <T>(endpoint: string, init?: RequestInit): Promise<T> => {
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    this.calls.push({ endpoint, body });
    const handlers = this.routes.get(endpoint.split('?')[0]) ?? this.routes.get(endpoint);
    if (!handlers) {
      throw Object.assign(new Error(`no route ${endpoint}`), { status: 404 });
    }
    const handler = handlers.length > 1 ? handlers.shift()! : handlers[0];
    return handler(body) as T;
  };
}

function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) {
        resolve();
      } else if (Date.now() - start > timeoutMs) {
        reject(new Error('timed out'));
      } else {
        setTimeout(tick, 5);
      }
    };
    tick();
  });
}

test('an add saves first, runs as an operation, reads the document back, then shows it', async () => {
  const before = deps();
  const after = deps({
    dependencies: [
      ...before.dependencies,
      { requirement: 'idna', name: 'idna', locked_version: '3.7' }
    ]
  });
  const server = new FakeServer()
    .on('notebooks/dependencies', () => before)
    .on('operations/op1', () => ({ operation: op('op1', 'succeeded'), log: [], next: 0 }));
  const operations = new OperationsModel({
    client: new UvKernelsClient(server.request),
    pollInterval: 0.1
  });
  const order: string[] = [];
  const model = new NotebookDepsModel({
    client: new NotebookClient(server.request),
    operations,
    beforeEdit: async path => {
      order.push(`save ${path}`);
    },
    // The document is read back before the section shows the new dependencies.
    afterEdit: async edit => {
      order.push(`read back ${edit.path}: ${model.dependencies?.dependencies.length} shown`);
    }
  });
  model.path = 'demo/fig.ipynb';
  await until(() => model.dependencies !== null);
  assert.equal(model.dependencies?.dependencies.length, 2);
  assert.equal(server.calls[0].endpoint, 'notebooks/dependencies?path=demo%2Ffig.ipynb');

  server.on(
    'notebooks/dependencies',
    body => {
      if (body) {
        order.push('post');
        return { operation: op('op1', 'running') };
      }
      return after;
    },
    () => after
  );
  const edits: INotebookEdit[] = [];
  model.edited.connect((_, edit) => edits.push(edit));
  const tracked = await model.add(['idna'], '>=3.11');
  assert.equal(tracked.label, 'Add idna to fig.ipynb');
  assert.deepEqual(order.slice(0, 2), ['save demo/fig.ipynb', 'post']);
  const posted = server.calls.find(c => c.body !== undefined)!;
  assert.deepEqual(posted.body, {
    path: 'demo/fig.ipynb',
    action: 'add',
    packages: ['idna'],
    requires_python: '>=3.11'
  });
  await until(() => edits.length === 1 && model.dependencies?.dependencies.length === 3);
  assert.deepEqual(order, ['save demo/fig.ipynb', 'post', 'read back demo/fig.ipynb: 2 shown']);
  assert.equal(edits[0].action, 'add');
  assert.equal(edits[0].tracked.operation.state, 'succeeded');
  assert.equal(model.version, 1);
  operations.dispose();
  model.dispose();
});

test('a lock sends no packages; a bad block is shown, not thrown', async () => {
  const server = new FakeServer().on('notebooks/dependencies', () =>
    deps({ problem: 'The script block is not valid TOML (line 2); fix it in the first cell.' })
  );
  const operations = new OperationsModel({ client: new UvKernelsClient(server.request) });
  const model = new NotebookDepsModel({ client: new NotebookClient(server.request), operations });
  model.path = 'bad.ipynb';
  await until(() => model.dependencies !== null);
  assert.match(model.dependencies!.problem!, /not valid TOML/);
  assert.equal(model.error, null);

  server.on('notebooks/dependencies', () => {
    throw Object.assign(new Error('The block is not valid TOML.'), { status: 400 });
  });
  await assert.rejects(model.lock(), /not valid TOML/);
  assert.deepEqual(server.calls[server.calls.length - 1].body, {
    path: 'bad.ipynb',
    action: 'lock'
  });

  // Another notebook: the old answer is dropped at once.
  server.on('notebooks/dependencies', () => {
    throw Object.assign(new Error('bad.txt is not a notebook (.ipynb).'), { status: 400 });
  });
  model.path = 'bad.txt';
  assert.equal(model.dependencies, null);
  await until(() => model.error !== null);
  assert.equal(model.error, 'bad.txt is not a notebook (.ipynb).');
  operations.dispose();
});

test('the document is read back after an edit only when its other cells are on disk', () => {
  const block = (deps: string) => ({
    cell_type: 'code',
    source: ['# /// script\n', `# dependencies = [${deps}]\n`, '# ///'],
    metadata: { jupyter: { source_hidden: true } },
    outputs: []
  });
  const work = {
    cell_type: 'code',
    source: 'import six',
    outputs: [{ output_type: 'stream', name: 'stdout', text: ['a\n', 'b\n'] }]
  };
  const disk = {
    cells: [block('"six", "idna"'), { ...work, execution_count: 3 }],
    metadata: { 'uv.lock': 'version = 1' }
  };
  // Only the kernel's metadata and the block differ: nothing is lost by reading back.
  const open = {
    cells: [block('"six"'), { ...work, outputs: [{ ...work.outputs[0], text: 'a\nb\n' }] }],
    metadata: { language_info: { name: 'python' } }
  };
  assert.equal(blockIndex(disk), 0);
  assert.equal(sameCellsBesideBlock(open, disk), true);
  // A cell typed since the save would be lost.
  const typed = { ...open, cells: [...open.cells, { cell_type: 'code', source: 'x = 1' }] };
  assert.equal(sameCellsBesideBlock(typed, disk), false);
  // A block made by the edit (the notebook had none) is not counted as a change.
  assert.equal(sameCellsBesideBlock({ cells: [work] }, disk), true);
  assert.deepEqual(editedParts(disk), { block: disk.cells[0], lock: 'version = 1' });
  assert.deepEqual(editedParts({ cells: [work] }), { block: null, lock: null });
  assert.equal(blockIndex({ cells: [{ cell_type: 'markdown', source: '# /// script' }] }), -1);
});
