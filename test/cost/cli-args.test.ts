import { parseFlags } from '../../tools/cost/cli-args';
import { InputError, parseDecimal, requireInteger, requireNumber } from '../../tools/cost/errors';

const SPEC = { 'docs-per-day': 'string', 'gpu-hours-per-doc': 'string', json: 'boolean' } as const;

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('parseFlags', () => {
  test('GIVEN --flag value, --flag=value and a boolean THEN all are read', () => {
    expect(parseFlags(['--docs-per-day', '100', '--gpu-hours-per-doc=0.2', '--json'], SPEC)).toEqual({
      'docs-per-day': '100',
      'gpu-hours-per-doc': '0.2',
      json: true,
    });
  });

  test('GIVEN -h or --help THEN help is set', () => {
    expect(parseFlags(['-h'], SPEC).help).toBe(true);
    expect(parseFlags(['--docs-per-day', '1', '--help'], SPEC).help).toBe(true);
  });

  test('GIVEN a flag as the last argument THEN the message names the flag missing its value', () => {
    expect(message(() => parseFlags(['--gpu-hours-per-doc', '1', '--docs-per-day'], SPEC))).toBe('--docs-per-day: missing its value');
  });

  test('GIVEN a flag followed by the next flag THEN the message names the flag missing its value and the flag found instead', () => {
    expect(message(() => parseFlags(['--docs-per-day', '--gpu-hours-per-doc', '1'], SPEC))).toBe(
      '--docs-per-day: missing its value (found the next flag --gpu-hours-per-doc instead)',
    );
  });

  test('GIVEN --flag= with nothing after THEN it is missing its value', () => {
    expect(message(() => parseFlags(['--docs-per-day='], SPEC))).toBe('--docs-per-day: missing its value');
  });

  test('GIVEN a negative number after a flag THEN it is the value (validation, not parsing, rejects it)', () => {
    expect(parseFlags(['--docs-per-day', '-5'], SPEC)['docs-per-day']).toBe('-5');
    expect(parseFlags(['--docs-per-day=-5'], SPEC)['docs-per-day']).toBe('-5');
    expect(parseFlags(['--docs-per-day', '-.5'], SPEC)['docs-per-day']).toBe('-.5');
  });

  test.each<[string[], string]>([
    [['--bogus'], 'unknown flag --bogus (see --help)'],
    [['-x'], 'unknown flag -x (see --help)'],
    [['--docs-per-days', '1'], 'unknown flag --docs-per-days (did you mean --docs-per-day? see --help)'],
    [['--gpu-hours'], 'unknown flag --gpu-hours (did you mean --gpu-hours-per-doc? see --help)'],
    [['100'], 'unexpected argument "100" (every value follows its --flag)'],
    [['--json=yes'], '--json: takes no value (got "yes")'],
    [['--docs-per-day', '1', '--docs-per-day', '2'], '--docs-per-day: given twice'],
  ])('fails on %p with one clear message', (argv, expected) => {
    expect(message(() => parseFlags(argv, SPEC))).toBe(expected);
  });
});

describe('numbers', () => {
  test.each(['0x10', '0b11', '0o7', '1_000', 'Infinity', '', ' ', '1,5', '5e'])('only decimal numbers: %p is rejected', (text) => {
    expect(parseDecimal(text)).toBeUndefined();
    expect(message(() => requireNumber(text, '--docs-per-day'))).toBe(`--docs-per-day: expected a decimal number, got ${JSON.stringify(text)}`);
  });

  test.each<[string, number]>([
    ['16', 16],
    ['0.2', 0.2],
    ['.5', 0.5],
    ['3.', 3],
    ['3.6e7', 36_000_000],
    ['-5', -5],
    ['+2', 2],
  ])('%p is %p', (text, n) => {
    expect(parseDecimal(text)).toBe(n);
  });

  test('GIVEN a missing value THEN the message says it is required, not "undefined"', () => {
    expect(message(() => requireNumber(undefined, '--gpu-hours-per-doc'))).toBe('--gpu-hours-per-doc: required');
  });

  test('GIVEN an integer below an open-ended range THEN the message states the real range', () => {
    expect(message(() => requireInteger('0', '--top', 1))).toBe('--top: expected an integer ≥ 1, got 0');
    expect(message(() => requireInteger('2.5', '--seed', 0, 10))).toBe('--seed: expected an integer from 0 to 10, got 2.5');
  });
});

test('GIVEN the command name THEN the unknown-flag message points at its --help', () => {
  expect(message(() => parseFlags(['--instance-type', 'g5.xlarge'], { 'instance-types': 'string' }, 'ai-burst cost'))).toBe(
    'unknown flag --instance-type (did you mean --instance-types? see ai-burst cost --help)',
  );
});
