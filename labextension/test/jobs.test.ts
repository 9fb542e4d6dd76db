/**
 * The batch-job form's and the Jobs section's pure logic (issue 13), without a browser.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { RequestFunction } from '../src/api';
import { IJobSettings, JobsClient } from '../src/jobs/api';
import { JobsModel } from '../src/jobs/model';
import {
  environmentForKernel,
  fieldOfJobRefusal,
  humanDuration,
  initialValue,
  jobKind,
  parameterValue,
  splitArgs,
  validateParameterName,
  validateWalltime
} from '../src/jobs/format';
import type { IEnvironment } from '../src/tokens';

function env(name: string, kernel: string | null): IEnvironment {
  return {
    id: `id-${name}`,
    name,
    path: `/work/${name}`,
    kind: 'project',
    venv: `/work/${name}/.venv`,
    python: '3.12.4',
    has_ipykernel: true,
    status: 'ready',
    kernel,
    problem: null,
    root: '/work',
    relpath: name,
    interpreter: null,
    uv_managed: true,
    workspace_members: []
  };
}

test('the environment preselected is the one whose kernel the notebook names', () => {
  const envs = [env('a', 'uv-a-1234'), env('b', 'uv-b-5678'), env('c', null)];
  assert.equal(environmentForKernel('uv-b-5678', envs), 'id-b');
  // uv-project: the project the notebook is in, which the server finds.
  assert.equal(environmentForKernel('uv-project', envs), '');
  assert.equal(environmentForKernel('python3', envs), '');
  assert.equal(environmentForKernel(null, envs), '');
});

test("the project's table wins over the remembered values, which win over the site's", () => {
  const settings: IJobSettings = {
    account: 'PROJ0001',
    queue: 'casper',
    walltime: '01:00:00',
    sources: { account: 'project', queue: 'site', walltime: 'site' }
  };
  const remembered = { account: 'MINE0001', queue: 'main' };
  assert.deepEqual(initialValue('account', settings, remembered), {
    value: 'PROJ0001',
    source: 'project'
  });
  assert.deepEqual(initialValue('queue', settings, remembered), {
    value: 'main',
    source: 'remembered'
  });
  // Only account and queue are remembered.
  assert.deepEqual(initialValue('walltime', settings, remembered), {
    value: '01:00:00',
    source: 'site'
  });
  assert.deepEqual(initialValue('select', settings, {}), { value: '', source: null });
});

test('durations read as people say them', () => {
  assert.equal(humanDuration(null), '');
  assert.equal(humanDuration(42), '42 s');
  assert.equal(humanDuration(185), '3 min');
  assert.equal(humanDuration(3600 + 5 * 60), '1 h 5 min');
  assert.equal(humanDuration(7200), '2 h');
  assert.equal(humanDuration(2 * 86400 + 3 * 3600 + 60), '2 d 3 h');
});

test('parameters keep their types the way papermill -p does', () => {
  assert.equal(parameterValue('3'), 3);
  assert.equal(parameterValue('-2.5e3'), -2500);
  assert.equal(parameterValue('True'), true);
  assert.equal(parameterValue('false'), false);
  assert.equal(parameterValue('None'), null);
  assert.equal(parameterValue('hello world'), 'hello world');
  assert.equal(parameterValue('1.2.3'), '1.2.3');
  assert.equal(validateParameterName('year_1'), null);
  assert.match(validateParameterName('1year') ?? '', /not a parameter name/);
});

test('arguments split like a shell line, quotes kept together', () => {
  assert.deepEqual(splitArgs(`--year 2024 'a b' "c d"e`), {
    args: ['--year', '2024', 'a b', 'c de'],
    error: null
  });
  assert.deepEqual(splitArgs("''").args, ['']);
  assert.match(splitArgs('"open').error ?? '', /not closed/);
});

test('walltime, file kinds and the field a refusal names', () => {
  assert.equal(validateWalltime('01:30:00'), null);
  assert.equal(validateWalltime(''), null);
  assert.match(validateWalltime('90 min') ?? '', /HH:MM:SS/);
  assert.equal(jobKind('a/b/fig3.ipynb'), 'notebook');
  assert.equal(jobKind('run.py'), 'script');
  assert.equal(jobKind('data.csv'), null);
  assert.equal(fieldOfJobRefusal("account 'x;rm' may hold letters, digits and _.-"), 'account');
  assert.equal(fieldOfJobRefusal('walltime must be HH:MM:SS'), 'walltime');
  assert.equal(fieldOfJobRefusal('qsub failed: no such queue'), 'queue');
  assert.equal(fieldOfJobRefusal('the scheduler is not reachable'), 'form');
});

test('a refresh asked during a read reads again afterwards, so a new job is seen', async () => {
  const lists = [[], [{ id: '1' }]];
  let calls = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>(resolve => (release = resolve));
  const request = async <T>(endpoint: string): Promise<T> => {
    assert.equal(endpoint, 'jobs');
    const jobs = lists[Math.min(calls++, 1)];
    if (calls === 1) {
      await gate;
    }
    return { jobs, scheduler: 'slurm', problem: null } as T;
  };
  const model = new JobsModel(new JobsClient(request as RequestFunction));
  const first = model.refresh();
  const second = model.refresh(); // asked after a submit, while the first read is under way
  release();
  await Promise.all([first, second]);
  assert.equal(calls, 2);
  assert.deepEqual(
    model.jobs.map(j => j.id),
    ['1']
  );
  model.dispose();
});
