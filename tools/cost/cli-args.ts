/**
 * Flag parsing for the `ai-burst` commands (and a trace's settings line). node:util's parseArgs reads
 * `--flag -5` as a missing value and a following flag as the value of the one before; this parser says
 * which flag lacks its value, treats a negative number as a value (so validation, not parsing, judges it),
 * and never accepts a stray positional argument.
 */
import { InputError } from './errors';

export type FlagSpec = Readonly<Record<string, 'string' | 'boolean'>>;

/** Flag name (without `--`) → its value (`true` for booleans); `help` when `-h` / `--help` was given. */
export type FlagValues = Record<string, string | true | undefined>;

/** A token that is a value although it starts with `-`: a negative decimal number. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** The known flag closest to a mistyped one (a prefix either way, or at most 2 edits), for "did you mean". */
function closest(name: string, spec: FlagSpec): string | undefined {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length];
  };
  const known = Object.keys(spec);
  return known.find((k) => name.length >= 3 && (k.startsWith(name) || name.startsWith(k))) ?? known.find((k) => distance(name, k) <= 2);
}

/**
 * Parses `argv` against `spec`; `command` (e.g. `ai-burst cost`) names where to look for help. Throws an
 * InputError naming the flag: unknown (with the closest known one), missing its value, given twice.
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec, command?: string): FlagValues {
  const values: FlagValues = {};
  const set = (name: string, value: string | true): void => {
    if (values[name] !== undefined) throw new InputError(`--${name}: given twice`);
    values[name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '-h' || token === '--help') {
      values.help = true;
      continue;
    }
    if (!token.startsWith('-') || NEGATIVE_NUMBER.test(token)) {
      throw new InputError(`unexpected argument ${JSON.stringify(token)} (every value follows its --flag)`);
    }
    const eq = token.indexOf('=');
    const name = token.startsWith('--') ? token.slice(2, eq > 0 ? eq : undefined) : '';
    const type = name ? spec[name] : undefined;
    if (!type) {
      const guess = name ? closest(name, spec) : undefined;
      const hint = `${guess ? `did you mean --${guess}? ` : ''}see ${command ? `${command} ` : ''}--help`;
      throw new InputError(`unknown flag ${eq > 0 ? token.slice(0, eq) : token} (${hint})`);
    }
    if (type === 'boolean') {
      if (eq > 0) throw new InputError(`--${name}: takes no value (got ${JSON.stringify(token.slice(eq + 1))})`);
      set(name, true);
      continue;
    }
    if (eq > 0) {
      const value = token.slice(eq + 1);
      if (value === '') throw new InputError(`--${name}: missing its value`);
      set(name, value);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next === '') throw new InputError(`--${name}: missing its value`);
    if (next.startsWith('-') && !NEGATIVE_NUMBER.test(next)) {
      throw new InputError(`--${name}: missing its value (found the next flag ${next.split('=')[0]} instead)`);
    }
    set(name, next);
    i++;
  }
  return values;
}

/** A string flag's value, or undefined. */
export function flagString(v: string | true | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A comma-separated list flag, blanks dropped. */
export function flagList(v: string | true | undefined): string[] | undefined {
  if (typeof v !== 'string') return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
