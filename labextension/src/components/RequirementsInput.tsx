/**
 * What every "run an operation from a box" place shares: the operation followed to its end
 * with its refusal or failure shown inline, and the requirements text box with its Add
 * button (an environment's Add box and the notebook section's).
 */
import * as React from 'react';

import { failureSummary } from '../operations';
import { IOperationsModel, ITrackedOperation } from '../tokens';
import { parseRequirements } from '../validate';
import { refusal, TextButton, whenFinished } from './common';

/** An error next to what caused it: the message, and the full text for the tooltip. */
export interface IShownError {
  message: string;
  title?: string;
}

/**
 * Start an operation and report, through `onError`, a refusal at once or a failure when
 * it ends. Resolves with the finished operation, or null when the server refused it.
 */
export async function runWithInlineErrors(
  operations: IOperationsModel,
  start: () => Promise<ITrackedOperation>,
  onError: (error: IShownError | null) => void
): Promise<ITrackedOperation | null> {
  onError(null);
  let tracked: ITrackedOperation;
  try {
    tracked = await start();
  } catch (error) {
    onError({ message: refusal(error).message });
    return null;
  }
  const done = await whenFinished(operations, tracked);
  if (done.operation.state === 'failed') {
    onError({
      message: `${done.label} failed: ${failureSummary(done)}`,
      title: done.operation.message ?? undefined
    });
  }
  return done;
}

/**
 * The typed requirements sent with `send` (true when they went in); a parse problem is
 * shown through `onError` instead. The text is cleared only when they went in and it was
 * not changed meanwhile, so a typo can be fixed and sent again.
 */
export async function sendTyped(
  text: string,
  send: (requirements: string[]) => Promise<boolean>,
  onError: (error: IShownError | null) => void,
  setText: (update: (current: string) => string) => void
): Promise<void> {
  const parsed = parseRequirements(text);
  if (parsed.errors.length) {
    onError({ message: parsed.errors.join(' ') });
    return;
  }
  if (!parsed.requirements.length) {
    onError({ message: 'Type one or more requirements, e.g. numpy xarray>=2024.1' });
    return;
  }
  if (await send(parsed.requirements)) {
    setText(current => (current === text ? '' : current));
  }
}

/** The requirements box and its Add button (inside the caller's form). */
export function RequirementsInput(props: {
  id: string;
  errorId: string;
  /** What the packages go into, as the labels name it. */
  target: string;
  text: string;
  onText: (text: string) => void;
  error: boolean;
  busy: boolean;
  /** The Add button's tooltip: the uv command it runs. */
  title?: string;
}): JSX.Element {
  const { id, errorId, target, text, error, busy } = props;
  return (
    <div className="jp-UvKernels-row">
      <input
        id={id}
        className="jp-UvKernels-input"
        type="text"
        value={text}
        placeholder="numpy xarray>=2024.1"
        aria-label={`Add packages to ${target}`}
        aria-invalid={error}
        aria-describedby={error ? errorId : undefined}
        spellCheck={false}
        onChange={event => props.onText(event.target.value)}
      />
      <TextButton
        accept
        type="submit"
        aria-label={`Add the packages to ${target}`}
        title={props.title}
        disabled={busy || !text.trim()}
      >
        Add
      </TextButton>
    </div>
  );
}
