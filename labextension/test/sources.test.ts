/**
 * Requirements files and indexes (issue 12) without a browser: the input checks, where a
 * refusal is shown, and what the client sends (a scripted transport records it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { UvKernelsClient } from '../src/api';
import { fieldOfRefusal, validateRequirementsFile } from '../src/validate';

function recordingClient(reply: unknown): {
  client: UvKernelsClient;
  calls: { endpoint: string; init?: RequestInit }[];
} {
  const calls: { endpoint: string; init?: RequestInit }[] = [];
  const request = async <T>(endpoint: string, init?: RequestInit): Promise<T> => {
    calls.push({ endpoint, init });
    return reply as T;
  };
  return { client: new UvKernelsClient(request), calls };
}

test('a requirements file must be a full path, not an option', () => {
  assert.equal(validateRequirementsFile(''), null);
  assert.equal(validateRequirementsFile('  '), null);
  assert.equal(validateRequirementsFile('/glade/work/me/requirements.txt'), null);
  assert.match(validateRequirementsFile('requirements.txt')!, /full path/);
  assert.match(validateRequirementsFile('-r /x/req.txt')!, /command-line option/);
  assert.match(validateRequirementsFile('/x/reqs/')!, /folder/);
  assert.match(validateRequirementsFile('/x/a\nb.txt')!, /control character/);
});

test('a refusal about the requirements file or the index is shown at that field', () => {
  const context = { requirementsFile: '/w/req.txt', index: 'gpu' };
  assert.equal(
    fieldOfRefusal('/w/req.txt line 2: "--index-url x" is an option', '', context),
    'requirements'
  );
  // "outside the configured roots" is about the file here, not about the new env's place.
  assert.equal(
    fieldOfRefusal(
      'The requirements file /etc/req.txt is outside the configured roots',
      '',
      context
    ),
    'requirements'
  );
  assert.equal(fieldOfRefusal('unknown index gpu; known: pytorch.', '', context), 'index');
  // Without a file or index in the request, the old routing holds.
  assert.equal(fieldOfRefusal('/w/x is outside the configured roots', ''), 'name');
  assert.equal(fieldOfRefusal('"--pre" is an option, not a requirement', ''), 'packages');
});

test('the add request carries a requirements file and an index only when set', async () => {
  const { client, calls } = recordingClient({ operation: { id: 'op1' } });
  await client.addPackages('e1', ['six']);
  await client.addPackages('e1', [], { requirements_file: '/w/req.txt', index: null });
  await client.addPackages('e1', ['torch'], { index: 'pytorch-cu124' });
  const bodies = calls.map(c => JSON.parse(String(c.init?.body)));
  assert.deepEqual(bodies, [
    { packages: ['six'] },
    { packages: [], requirements_file: '/w/req.txt' },
    { packages: ['torch'], index: 'pytorch-cu124' }
  ]);
  assert.ok(calls.every(c => c.endpoint === 'environments/e1/packages'));
});

test('files lists the roots without a path, and one folder with it', async () => {
  const listing = { path: null, parent: null, entries: [] };
  const { client, calls } = recordingClient(listing);
  assert.deepEqual(await client.files(), listing);
  await client.files('/w/a b&c');
  assert.deepEqual(
    calls.map(c => c.endpoint),
    ['files', 'files?path=%2Fw%2Fa%20b%26c']
  );
});

test('indexes unwraps the list', async () => {
  const indexes = [{ name: 'gpu', url: 'https://example.org/simple', source: 'config' }];
  const { client, calls } = recordingClient({ indexes });
  assert.deepEqual(await client.indexes(), indexes);
  assert.equal(calls[0].endpoint, 'indexes');
});
