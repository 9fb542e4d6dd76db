/**
 * Input checks done before anything is sent, so a typo gets an answer at once.
 *
 * The server validates everything again (PEP 508 parsing, root confinement); these
 * checks only catch what is certainly wrong, and say how to fix it.
 */

const OPERATOR_CHARS = '<>=!~';
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const EXTRAS = `\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\]`;
const VERSION = '[A-Za-z0-9_.*+!-]+';
const CLAUSE = `(?:===|~=|==|!=|<=|>=|<|>)\\s*${VERSION}`;
const SPEC = `${CLAUSE}(?:\\s*,\\s*${CLAUSE})*`;
const REQUIREMENT = new RegExp(
  `^${NAME}\\s*(?:${EXTRAS})?\\s*(?:${SPEC}|\\(\\s*${SPEC}\\s*\\)|@\\s*\\S+)?\\s*(?:;.*)?$`
);

export interface IParsedRequirements {
  requirements: string[];
  errors: string[];
}

/**
 * Split free text into requirements: whitespace or commas separate them, except inside
 * `[extras]` and version specifiers, so `xarray[io,parallel] numpy>=1.26,<3` gives two.
 */
export function splitRequirements(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '[' || ch === '(') {
      depth++;
    } else if ((ch === ']' || ch === ')') && depth > 0) {
      depth--;
    }
    if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
      if (current) {
        tokens.push(current);
      }
      current = '';
      if (ch === ',') {
        tokens.push(',');
      }
      continue;
    }
    current += ch;
  }
  if (current) {
    tokens.push(current);
  }
  // Glue specifier pieces back on: "numpy >= 2", "numpy>=1,<3", "pkg @ https://…".
  const out: string[] = [];
  let sawComma = false;
  for (const token of tokens) {
    if (token === ',') {
      sawComma = true;
      continue;
    }
    const prev = out.length ? out[out.length - 1] : '';
    const startsWithOperator = (OPERATOR_CHARS + '@').includes(token[0]);
    const prevEndsWithOperator =
      prev !== '' && (OPERATOR_CHARS + '@').includes(prev[prev.length - 1]);
    if (prev && prevEndsWithOperator) {
      out[out.length - 1] = prev + token;
    } else if (prev && startsWithOperator) {
      const prevHasSpec = [...OPERATOR_CHARS].some(c => prev.includes(c));
      out[out.length - 1] = prev + (prevHasSpec && sawComma ? ',' : '') + token;
    } else {
      out.push(token);
    }
    sawComma = false;
  }
  return out;
}

/** Parse the "add packages" box. Errors name the offending piece and the expected form. */
export function parseRequirements(text: string): IParsedRequirements {
  const requirements: string[] = [];
  const errors: string[] = [];
  for (const token of splitRequirements(text)) {
    if (token.startsWith('-')) {
      errors.push(
        `"${token}" looks like a command-line option, not a package; give requirements such as numpy or xarray>=2024.1.`
      );
    } else if (!REQUIREMENT.test(token)) {
      errors.push(`"${token}" is not a valid requirement; use PEP 508 form, e.g. numpy>=2.`);
    } else {
      requirements.push(token);
    }
  }
  return { requirements, errors };
}

/** The name of a new environment: one path segment. Returns an error, or null when fine. */
export function validateEnvironmentName(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) {
    return 'Give the environment a name.';
  }
  if (trimmed.includes('/') || trimmed.includes('\\')) {
    return 'The name cannot contain "/"; put the folder in "Subfolder" instead.';
  }
  if (trimmed.startsWith('-')) {
    return 'The name cannot start with "-".';
  }
  if (trimmed === '.' || trimmed === '..') {
    return `"${trimmed}" is not a usable name.`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    return 'The name contains a control character.';
  }
  return null;
}

/** A subfolder below a root: relative, no "..". Returns an error, or null when fine. */
export function validateSubfolder(subfolder: string): string | null {
  const parts = subfolder.split('/').filter(p => p !== '' && p !== '.');
  if (parts.some(p => p === '..')) {
    return 'The subfolder cannot contain ".."; it must stay inside the chosen root.';
  }
  if (parts.some(p => p.startsWith('-'))) {
    return 'A folder name in the subfolder cannot start with "-".';
  }
  return null;
}

/** The absolute path of a new environment. */
export function joinEnvironmentPath(root: string, subfolder: string, name: string): string {
  const parts = subfolder.split('/').filter(p => p !== '' && p !== '.');
  return [root.replace(/\/+$/, ''), ...parts, name.trim()].join('/');
}

/**
 * The path of `path` relative to the Jupyter server's root, or null when it lies outside
 * (then the file browser cannot show it).
 */
export function relativeToServerRoot(path: string, serverRoot: string): string | null {
  if (!serverRoot || serverRoot.startsWith('~')) {
    return null;
  }
  const root = serverRoot.replace(/\/+$/, '');
  const clean = path.replace(/\/+$/, '');
  if (clean === root) {
    return '';
  }
  if (root === '') {
    // The server root is "/".
    return clean.replace(/^\/+/, '');
  }
  if (clean.startsWith(root + '/')) {
    return clean.slice(root.length + 1);
  }
  return null;
}

/**
 * A requirements file typed into a form: a full path, one line, not option-shaped.
 * Empty is fine (the file is optional). Whether it lies inside the roots is the server's
 * call (it resolves links). Returns an error, or null when fine.
 */
export function validateRequirementsFile(path: string): string | null {
  const trimmed = path.trim();
  if (!trimmed) {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    return 'The requirements file path contains a control character.';
  }
  if (trimmed.startsWith('-')) {
    return `"${trimmed}" looks like a command-line option; give the path of a requirements file.`;
  }
  if (!trimmed.startsWith('/')) {
    return 'Give the full path of the requirements file (starting with "/"), or use Browse….';
  }
  if (trimmed.endsWith('/')) {
    return 'That is a folder; choose a requirements file in it (Browse…).';
  }
  return null;
}

/** What a refused request was about, beyond the place and the packages (issue 12). */
export interface IRefusalContext {
  /** The requirements file the request named, if any. */
  requirementsFile?: string;
  /** The index the request named, if any. */
  index?: string;
}

/** Whether a refusal is about the requirements file or the index the request named. */
export function sourceOfRefusal(
  message: string,
  context: IRefusalContext = {}
): 'requirements' | 'index' | null {
  const file = context.requirementsFile?.trim();
  if (file && (/requirements[ _]file/i.test(message) || message.includes(file))) {
    return 'requirements';
  }
  if (context.index && /\bindex\b/i.test(message)) {
    return 'index';
  }
  return null;
}

/**
 * The field a refused create concerns, from the server's message: the requirements file
 * or index it named, the place (name or subfolder), the Python, or the packages; anything
 * else goes to the whole form.
 */
export function fieldOfRefusal(
  message: string,
  subfolder: string,
  context: IRefusalContext = {}
): 'name' | 'subfolder' | 'python' | 'packages' | 'requirements' | 'index' | 'form' {
  const source = sourceOfRefusal(message, context);
  if (source) {
    return source;
  }
  if (
    /already exists|not empty|is a file|outside the configured roots|resolves to/i.test(message)
  ) {
    const inSubfolder =
      subfolder.trim() !== '' && /is a file|outside the configured roots/i.test(message);
    return inSubfolder ? 'subfolder' : 'name';
  }
  if (/\bpython\b|interpreter/i.test(message)) {
    return 'python';
  }
  if (/requirement|package|option|PEP 508/i.test(message)) {
    return 'packages';
  }
  return 'form';
}
