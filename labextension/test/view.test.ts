/**
 * The environment view's pure helpers: sizes as people read them, the copy's default
 * folder, and the page of a long package list (node's built-in test runner; `jlpm test`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { copyTarget, describeSize, formatBytes, limitPackages } from '../src/view/format';

test('sizes read like du -h, and a lower bound says "at least"', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(133 * 1024 * 1024), '133 MB');
  assert.equal(formatBytes(5 * 1024 ** 4), '5.0 TB');
  const size = { path: '/p/.venv', bytes: 2 * 1024 ** 3, files: 1234, seconds: 2, complete: true };
  assert.equal(describeSize(size), `2.0 GB in ${(1234).toLocaleString()} files`);
  assert.match(describeSize({ ...size, complete: false }), /^at least 2\.0 GB/);
});

test('a copy goes next to its source, or into a root of yours for a read-only source', () => {
  assert.equal(copyTarget('/work/a/env', 'env', null), '/work/a/env-copy');
  assert.equal(copyTarget('/work/a/env/', 'env', null), '/work/a/env-copy');
  assert.equal(
    copyTarget('/glade/campaign/shared', 'shared', '/glade/work/me/'),
    '/glade/work/me/shared-copy'
  );
});

test('a long list shows every matching direct dependency and a page of the rest', () => {
  const packages = [
    { name: 'zarr', direct: true },
    ...Array.from({ length: 250 }, (_, i) => ({ name: `pkg-${String(i).padStart(3, '0')}` }))
  ];
  const first = limitPackages(packages, '', 100);
  assert.equal(first.shown.length, 101);
  assert.equal(first.shown[0].name, 'zarr');
  assert.equal(first.shown[1].name, 'pkg-000');
  assert.equal(first.matching, 251);
  assert.equal(first.hidden, 150);
  const filtered = limitPackages(packages, 'PKG-24', 100);
  assert.deepEqual(
    filtered.shown.map(p => p.name),
    Array.from({ length: 10 }, (_, i) => `pkg-24${i}`)
  );
  assert.equal(filtered.hidden, 0);
  assert.equal(limitPackages(packages, 'zarr', 0).shown.length, 1);
});
