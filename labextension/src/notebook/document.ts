/**
 * The open document after the server edited the notebook file (issue 15). A document with
 * no unsaved changes is read back from disk. One with unsaved changes is read back only
 * when nothing would be lost: its cells, the dependencies cell aside, are those on disk
 * (JupyterLab marks a notebook modified when a kernel starts and writes its language
 * info). Otherwise the new dependencies cell and lock are put into the open document, so
 * the user's work and the edit both survive.
 * The comparison is pure (unit-tested); `applyToModel` touches the notebook model.
 */
import type { INotebookModel } from '@jupyterlab/notebook';

/** juv's key of the lock in the notebook's metadata. */
export const LOCK_KEY = 'uv.lock';

interface ICellJSON {
  cell_type: string;
  source: string | string[];
  metadata?: Record<string, unknown>;
  outputs?: unknown[];
}

interface INotebookJSON {
  cells: ICellJSON[];
  metadata?: Record<string, unknown>;
}

function text(source: string | string[]): string {
  return Array.isArray(source) ? source.join('') : (source ?? '');
}

/** Multiline strings (lists of lines) joined, so disk and model JSON compare equal. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.every(v => typeof v === 'string') ? value.join('') : value.map(v => normalized(v));
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (key !== 'execution_count') {
        out[key] = normalized((value as Record<string, unknown>)[key]);
      }
    }
    return out;
  }
  return value;
}

/** The index of the first code cell holding a PEP 723 block, or -1. */
export function blockIndex(nb: INotebookJSON): number {
  return nb.cells.findIndex(
    c => c.cell_type === 'code' && /^# \/\/\/ script\s*$/m.test(text(c.source))
  );
}

/** The cells other than the dependencies cell, as comparable strings. */
function otherCells(nb: INotebookJSON): string[] {
  const skip = blockIndex(nb);
  return nb.cells
    .filter((_, i) => i !== skip)
    .map(c => JSON.stringify([c.cell_type, text(c.source), normalized(c.outputs ?? [])]));
}

/** Whether reading the disk version back would lose nothing of the open document's cells. */
export function sameCellsBesideBlock(open: INotebookJSON, disk: INotebookJSON): boolean {
  const a = otherCells(open);
  const b = otherCells(disk);
  return a.length === b.length && a.every((cell, i) => cell === b[i]);
}

/** The dependencies cell and the lock of the disk version, for `applyToModel`. */
export function editedParts(disk: INotebookJSON): {
  block: ICellJSON | null;
  lock: string | null;
} {
  const index = blockIndex(disk);
  const lock = disk.metadata?.[LOCK_KEY];
  return {
    block: index >= 0 ? disk.cells[index] : null,
    lock: typeof lock === 'string' ? lock : null
  };
}

/** Put the disk version's dependencies cell and lock into the open document. */
export function applyToModel(model: INotebookModel, disk: INotebookJSON): void {
  const { block, lock } = editedParts(disk);
  const shared = model.sharedModel;
  const open = blockIndex(model.toJSON() as unknown as INotebookJSON);
  if (block) {
    if (open >= 0) {
      shared.getCell(open).setSource(text(block.source));
    } else {
      shared.insertCell(0, {
        cell_type: 'code',
        source: text(block.source),
        metadata: (block.metadata ?? { jupyter: { source_hidden: true } }) as any
      });
    }
  }
  if (lock !== null) {
    model.setMetadata(LOCK_KEY, lock);
  } else if (model.getMetadata(LOCK_KEY) !== undefined) {
    model.deleteMetadata(LOCK_KEY);
  }
}
