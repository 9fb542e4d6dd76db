/**
 * The panel's wording for a record's `problem`.
 *
 * The server (and the CLI) say what to run in a terminal: "run `jupyter uvkernel install
 * …`". In the panel the fix is a button right below, so the hint names the button instead;
 * the original sentence, command included, stays in the tooltip.
 */
import { IEnvironment } from './tokens';

/** The detail-view button that fixes a problem. */
export type FixAction = 'register' | 'sync' | 'relock';

/** The visible label of each fixing button (the detail view uses the same words). */
export const FIX_LABELS: Record<FixAction, string> = {
  register: 'Register kernel',
  sync: 'Sync',
  relock: 'Relock and sync'
};

export interface IPanelProblem {
  /** What the panel shows: the cause, then the button to use. */
  text: string;
  /** The server's sentence, with the command (for the tooltip). */
  original: string;
  /** The button that fixes it, or null when only a terminal can (e.g. a broken venv). */
  fix: FixAction | null;
}

/** Which button fixes the problem of `env`, from its status (and for drift, its cause). */
export function fixFor(env: IEnvironment): FixAction | null {
  switch (env.status) {
    case 'needs-ipykernel':
      return env.venv ? 'register' : null;
    case 'no-environment':
      return env.kind === 'project' ? 'sync' : null;
    case 'out-of-sync':
      if (env.kind !== 'project') {
        return null;
      }
      // `uv sync --frozen` cannot fix a lock that is missing or older than pyproject.toml.
      return /pyproject\.toml changed|no uv\.lock/i.test(env.problem ?? '') ? 'relock' : 'sync';
    default:
      return null;
  }
}

/** The cause part of a server sentence: what comes before "; run `…`" or "; run Sync (`…`)". */
function cause(problem: string): string {
  const match = /^(.*?)[;,]?\s*\brun\s+(?:\w+\s+\()?`/s.exec(problem);
  const text = (match ? match[1] : problem).trim().replace(/[;,:.]$/, '');
  return text ? `${text}.` : '';
}

/** The panel's wording of `env.problem`, or null when there is none. */
export function panelProblem(env: IEnvironment): IPanelProblem | null {
  const original = env.problem;
  if (!original) {
    return null;
  }
  const fix = fixFor(env);
  if (fix !== null && env.read_only) {
    // None of the fixing buttons is offered on a folder the user cannot write.
    const because = cause(original);
    const what = 'It is read-only for you: use Copy… and fix it in your copy.';
    return { text: because ? `${because} ${what}` : what, original, fix: null };
  }
  if (fix === null) {
    return { text: original, original, fix };
  }
  const what =
    fix === 'register'
      ? `Use ${FIX_LABELS.register} below: it adds ipykernel and writes the kernel.`
      : fix === 'sync'
        ? `Use ${FIX_LABELS.sync} below to install exactly what uv.lock says.`
        : `Use ${FIX_LABELS.relock} below: it updates uv.lock, then installs.`;
  const because = cause(original);
  return { text: because ? `${because} ${what}` : what, original, fix };
}
