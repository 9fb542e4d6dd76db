/**
 * The Add box of an environment's package list: requirements typed in, or a requirements
 * file chosen inside the roots, optionally from a named index (issue 12).
 */
import * as React from 'react';

import { IEnvironment, IIndex, IPackageSource } from '../tokens';
import { InlineError, IPanelModels, TextButton } from './common';
import { IndexSelect } from './IndexSelect';
import {
  IShownError,
  RequirementsInput,
  runWithInlineErrors,
  sendTyped
} from './RequirementsInput';
import { folderOf, pickRootFile } from './RootFilePicker';

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
    const done = await runWithInlineErrors(
      models.operations,
      () => models.actions.addPackages(env, packages, source),
      setError
    );
    return done?.operation.state === 'succeeded';
  };

  const addTyped = (): Promise<void> =>
    sendTyped(text, packages => run(packages, { index: chosenIndex || null }), setError, setText);

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
      <RequirementsInput
        id={inputId}
        errorId={errorId}
        target={env.name}
        text={text}
        onText={value => {
          setText(value);
          setError(null);
        }}
        error={error !== null}
        busy={busy}
      />
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
