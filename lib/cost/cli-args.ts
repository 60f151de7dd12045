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

export function parseFlags(argv: readonly string[], spec: FlagSpec): FlagValues {
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
    if (!type) throw new InputError(`unknown flag ${eq > 0 ? token.slice(0, eq) : token} (see --help)`);
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
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
