/** Small formatting helpers of the main-area environment view (no React, no JupyterLab). */
import type { ISizeReply } from '../tokens';

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** A byte count as people read it: "812 KB", "1.4 GB" (powers of 1024, as `du -h`). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) {
    return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** The size line: "1.2 GB in 3,456 files", or "at least …" when the time budget ran out. */
export function describeSize(size: ISizeReply): string {
  const files = `${size.files.toLocaleString()} file${size.files === 1 ? '' : 's'}`;
  const text = `${formatBytes(size.bytes)} in ${files}`;
  return size.complete ? text : `at least ${text}`;
}

/** A sibling folder for a copy: `/a/b/env` -> `/a/b/env-copy`, or under `root` if given. */
export function copyTarget(path: string, name: string, root: string | null): string {
  const base = root ?? path.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return `${base.replace(/\/+$/, '')}/${name}-copy`;
}

/** How many package rows a list shows before it asks for a filter or "Show more". */
export const PACKAGE_PAGE = 100;

/**
 * The packages a list renders: those whose name contains `filter`, every direct
 * dependency among them, and the others up to `limit` (by name). Keeps a 500-package
 * environment's list fast to render; `hidden` says how many were left out.
 */
export function limitPackages<T extends { name: string; direct?: boolean }>(
  packages: ReadonlyArray<T>,
  filter: string,
  limit: number
): { shown: T[]; matching: number; hidden: number } {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const matching = packages.filter(p => words.every(w => p.name.toLowerCase().includes(w)));
  const direct = matching.filter(p => p.direct);
  const others = matching.filter(p => !p.direct).sort((a, b) => a.name.localeCompare(b.name));
  const kept = others.slice(0, Math.max(0, limit));
  return {
    shown: [...direct, ...kept],
    matching: matching.length,
    hidden: others.length - kept.length
  };
}
