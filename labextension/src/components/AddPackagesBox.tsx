/**
 * The Add box of an environment's package list: requirements typed in, or a requirements
 * file chosen inside the roots, optionally from a named index (issue 12).
 */
import * as React from 'react';

import { failureSummary } from '../operations';
import { IEnvironment, IIndex, IPackageSource, ITrackedOperation } from '../tokens';
import { parseRequirements } from '../validate';
import { InlineError, IPanelModels, refusal, TextButton, whenFinished } from './common';
import { IndexSelect } from './IndexSelect';
import { folderOf, pickRootFile } from './RootFilePicker';

/** An error next to the box: the message, and the full text for the tooltip. */
interface IShownError {
  message: string;
  title?: string;
}

/** Where a requirements file for this environment is most likely: next to it. */
export function pickerStart(env: IEnvironment): string {
  return env.kind === 'project' ? env.path : folderOf(env.path);
}

export function AddPackagesBox(props: {
  env: IEnvironment;
  models: IPanelModels;
  /** The indexes an add may name (the env's details: configured and pyproject ones). */
  indexes?: ReadonlyArray<IIndex>;
}): JSX.Element | null {
  const { env, models } = props;
  const indexes = props.indexes ?? [];
  const [text, setText] = React.useState('');
  const [index, setIndex] = React.useState('');
  const [error, setError] = React.useState<IShownError | null>(null);
  const busy = models.operations.isBusy(env);

  // An index the env no longer offers (pyproject edited) is not sent.
  const chosenIndex = indexes.some(i => i.name === index) ? index : '';

  if (env.read_only) {
    return (
      <div className="jp-UvKernels-muted jp-UvKernels-add-readonly" role="note">
        read-only: copy it to change it
      </div>
    );
  }
  if (!env.venv || env.status === 'broken') {
    return null;
  }

  /** Start the add and report a refusal at once, or a failure when it ends. */
  const run = async (packages: string[], source: IPackageSource): Promise<boolean> => {
    setError(null);
    let tracked: ITrackedOperation;
    try {
      tracked = await models.actions.addPackages(env, packages, source);
    } catch (e) {
      setError({ message: refusal(e).message });
      return false;
    }
    const done = await whenFinished(models.operations, tracked);
    if (done.operation.state === 'failed') {
      setError({
        message: `${done.label} failed: ${failureSummary(done)}`,
        title: done.operation.message ?? undefined
      });
    }
    return done.operation.state === 'succeeded';
  };

  const addTyped = async (): Promise<void> => {
    const parsed = parseRequirements(text);
    if (parsed.errors.length) {
      setError({ message: parsed.errors.join(' ') });
      return;
    }
    if (!parsed.requirements.length) {
      setError({ message: 'Type one or more requirements, e.g. numpy xarray>=2024.1' });
      return;
    }
    const sent = text;
    const ok = await run(parsed.requirements, { index: chosenIndex || null });
    // The text stays until the packages are in, so a typo can be fixed and sent again.
    if (ok) {
      setText(current => (current === sent ? '' : current));
    }
  };

  const addFromFile = async (): Promise<void> => {
    const file = await pickRootFile({
      list: path => models.environments.files(path),
      start: pickerStart(env),
      title: `Add from a requirements file to ${env.name}`,
      acceptLabel: 'Add'
    });
    if (file) {
      await run([], { requirements_file: file, index: chosenIndex || null });
    }
  };

  const inputId = `jp-UvKernels-add-${env.id}`;
  const errorId = `${inputId}-error`;
  const indexId = `${inputId}-index`;
  return (
    <form
      className="jp-UvKernels-add"
      onSubmit={event => {
        event.preventDefault();
        void addTyped();
      }}
    >
      <label htmlFor={inputId} className="jp-UvKernels-label">
        Add packages
      </label>
      <div className="jp-UvKernels-row">
        <input
          id={inputId}
          className="jp-UvKernels-input"
          type="text"
          value={text}
          placeholder="numpy xarray>=2024.1"
          aria-label={`Add packages to ${env.name}`}
          aria-invalid={error !== null}
          aria-describedby={error ? errorId : undefined}
          spellCheck={false}
          onChange={event => {
            setText(event.target.value);
            setError(null);
          }}
        />
        <TextButton
          accept
          type="submit"
          aria-label={`Add the packages to ${env.name}`}
          disabled={busy || !text.trim()}
        >
          Add
        </TextButton>
      </div>
      <div className="jp-UvKernels-row jp-UvKernels-add-sources">
        <TextButton
          title={
            env.kind === 'project'
              ? 'uv add -r FILE: choose a requirements file inside the roots'
              : 'uv pip install -r FILE: choose a requirements file inside the roots'
          }
          disabled={busy}
          onClick={() => void addFromFile()}
        >
          Add from requirements file…
        </TextButton>
        {indexes.length > 0 && (
          <>
            <label htmlFor={indexId} className="jp-UvKernels-label jp-UvKernels-index-label">
              Index
            </label>
            <IndexSelect
              id={indexId}
              indexes={indexes}
              value={chosenIndex}
              disabled={busy}
              onChange={value => {
                setIndex(value);
                setError(null);
              }}
            />
          </>
        )}
      </div>
      {error && <InlineError id={errorId} message={error.message} title={error.title} />}
    </form>
  );
}
