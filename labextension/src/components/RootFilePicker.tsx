/**
 * A file picker that only sees the roots: a JupyterLab Dialog over `GET files`, which
 * lists the roots, their folders, and the files that can be requirements files.
 *
 * Mouse: click a folder to open it, ".." to go up, a file to select it; double-click a
 * file (or press Choose) to choose it. Keyboard: Up/Down move between entries, Enter or
 * Space opens a folder or selects a file, Enter on the selected file chooses it,
 * Backspace goes up. Escape cancels.
 */
import * as React from 'react';
import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import { fileIcon, folderIcon } from '@jupyterlab/ui-components';

import { errorMessage } from '../api';
import { IFileListing } from '../tokens';

export interface IRootFilePickerOptions {
  /** One folder inside the roots (null: the roots), e.g. `environments.files`. */
  list: (path: string | null) => Promise<IFileListing>;
  /** The folder (or a file, whose folder is used) to open first; else the roots. */
  start?: string | null;
  title?: string;
  /** The label of the accept button. */
  acceptLabel?: string;
}

/** The folder of a path ("/a/b/c.txt" -> "/a/b"); a path ending in "/" is a folder. */
export function folderOf(path: string): string {
  const trimmed = path.trim();
  if (trimmed.endsWith('/')) {
    return trimmed.replace(/\/+$/, '') || '/';
  }
  const cut = trimmed.lastIndexOf('/');
  return cut > 0 ? trimmed.slice(0, cut) : '/';
}

/**
 * Ask the user for a file inside the roots. Resolves with its absolute path, or null
 * when they cancelled.
 */
export async function pickRootFile(options: IRootFilePickerOptions): Promise<string | null> {
  const accept = options.acceptLabel ?? 'Choose';
  let dialog: Dialog<string | null> | null = null;
  const body = new PickerBody(options, () => dialog?.resolve(1));
  dialog = new Dialog<string | null>({
    title: options.title ?? 'Choose a requirements file',
    body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: accept, ariaLabel: `${accept} the selected file` })
    ],
    hasClose: true
  });
  dialog.addClass('jp-UvKernels-picker-dialog');
  const result = await dialog.launch();
  return result.button.accept ? (result.value ?? null) : null;
}

/** The dialog's body: a React browser that remembers the selected file for `getValue`. */
class PickerBody extends ReactWidget implements Dialog.IBodyWidget<string | null> {
  constructor(
    private readonly _options: IRootFilePickerOptions,
    private readonly _accept: () => void
  ) {
    super();
    this.addClass('jp-UvKernels-picker');
  }

  getValue(): string | null {
    return this._selected;
  }

  protected render(): JSX.Element {
    return (
      <RootFileBrowser
        list={this._options.list}
        start={this._options.start ?? null}
        acceptLabel={this._options.acceptLabel ?? 'Choose'}
        onSelect={path => {
          this._selected = path;
        }}
        onChoose={path => {
          this._selected = path;
          this._accept();
        }}
      />
    );
  }

  private _selected: string | null = null;
}

/** The browser itself, usable outside a dialog too. */
export function RootFileBrowser(props: {
  list: (path: string | null) => Promise<IFileListing>;
  start: string | null;
  /** The dialog's accept button, named in the hint. */
  acceptLabel: string;
  onSelect: (path: string | null) => void;
  onChoose: (path: string) => void;
}): JSX.Element {
  const { list, onSelect, onChoose } = props;
  const [listing, setListing] = React.useState<IFileListing | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [selected, setSelected] = React.useState<string | null>(null);
  const listRef = React.useRef<HTMLUListElement>(null);
  /** Bumped on every navigation, so a slow answer for a folder left since is dropped. */
  const request = React.useRef(0);

  const open = React.useCallback(
    async (path: string | null, fallbackToRoots = false): Promise<void> => {
      const mine = ++request.current;
      setLoading(true);
      try {
        const reply = await list(path);
        if (mine !== request.current) {
          return;
        }
        setListing(reply);
        setError(null);
        setSelected(null);
        onSelect(null);
      } catch (e) {
        if (mine !== request.current) {
          return;
        }
        if (fallbackToRoots && path !== null) {
          void open(null);
          return;
        }
        setError(errorMessage(e));
      } finally {
        if (mine === request.current) {
          setLoading(false);
        }
      }
    },
    [list, onSelect]
  );

  React.useEffect(() => {
    void open(props.start, true);
    // Only the first folder comes from the props; later ones from the user.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // After a folder opens, the keyboard user lands on its first entry.
  React.useEffect(() => {
    if (!loading) {
      listRef.current?.querySelector<HTMLButtonElement>('button')?.focus();
    }
  }, [listing, loading]);

  const select = (path: string): void => {
    setSelected(path);
    onSelect(path);
  };

  const up = (): void => {
    if (listing && listing.path !== null) {
      void open(listing.parent);
    }
  };

  const onKeyDown = (event: React.KeyboardEvent<HTMLUListElement>): void => {
    const buttons = Array.from(listRef.current?.querySelectorAll('button') ?? []);
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? at + 1 : at - 1;
      buttons[Math.max(0, Math.min(buttons.length - 1, next))]?.focus();
    } else if (event.key === 'Backspace') {
      event.preventDefault();
      up();
    }
  };

  const where = listing?.path ?? null;
  const parentLabel =
    listing?.parent !== null && listing?.parent !== undefined ? listing.parent : 'the roots';
  return (
    <div className="jp-UvKernels-picker-body" aria-busy={loading}>
      <div className="jp-UvKernels-picker-location" title={where ?? undefined}>
        {/* Marks keep the path left to right inside the right-aligned, start-clipped box. */}
        {where === null ? 'The configured roots' : '\u200e' + where + '\u200e'}
      </div>
      {error && (
        <div className="jp-UvKernels-error" role="alert">
          {error}
        </div>
      )}
      <ul
        ref={listRef}
        className="jp-UvKernels-picker-entries"
        aria-label={where === null ? 'The configured roots' : `Contents of ${where}`}
        onKeyDown={onKeyDown}
      >
        {where !== null && (
          <li>
            <button
              type="button"
              className="jp-UvKernels-picker-entry"
              data-kind="parent"
              aria-label={`.. (up to ${parentLabel})`}
              title={`Up to ${parentLabel}`}
              onClick={up}
            >
              <folderIcon.react tag="span" className="jp-UvKernels-picker-icon" />
              ..
            </button>
          </li>
        )}
        {(listing?.entries ?? []).map(entry =>
          entry.kind === 'directory' ? (
            <li key={entry.path}>
              <button
                type="button"
                className="jp-UvKernels-picker-entry"
                data-kind="directory"
                data-path={entry.path}
                aria-label={`${entry.name}/ (folder)`}
                title={entry.path}
                onClick={() => void open(entry.path)}
              >
                <folderIcon.react tag="span" className="jp-UvKernels-picker-icon" />
                {entry.name}/
              </button>
            </li>
          ) : (
            <li key={entry.path}>
              <button
                type="button"
                className={
                  'jp-UvKernels-picker-entry' + (selected === entry.path ? ' jp-mod-selected' : '')
                }
                data-kind="file"
                data-path={entry.path}
                aria-pressed={selected === entry.path}
                title={entry.path}
                onClick={() => select(entry.path)}
                onDoubleClick={() => onChoose(entry.path)}
                onKeyDown={event => {
                  if (event.key === 'Enter' && selected === entry.path) {
                    event.preventDefault();
                    onChoose(entry.path);
                  }
                }}
              >
                <fileIcon.react tag="span" className="jp-UvKernels-picker-icon" />
                {entry.name}
              </button>
            </li>
          )
        )}
      </ul>
      {!loading && listing && listing.entries.length === 0 && (
        <div className="jp-UvKernels-muted">
          {where === null
            ? 'No roots are configured (c.UvKernels.roots).'
            : 'No folders or requirements files (*.txt, *.in, pylock*.toml) here.'}
        </div>
      )}
      {listing?.truncated && (
        <div className="jp-UvKernels-muted">
          This folder has more entries than are shown; type the file&apos;s path instead.
        </div>
      )}
      {loading && <div className="jp-UvKernels-muted">Loading…</div>}
      <div className="jp-UvKernels-muted jp-UvKernels-picker-hint" role="status">
        {selected
          ? `Selected: ${selected}`
          : `Open folders to find the file; double-click it, or select it and press ${props.acceptLabel}.`}
      </div>
    </div>
  );
}
