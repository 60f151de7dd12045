/**
 * The one log interface of the run-time code. The Lambdas pass their Powertools `Logger` (it satisfies `Log`);
 * the worker passes `jsonLogger()`: one JSON line per event on stdout (journald keeps it; the CloudWatch agent or
 * `journalctl -u` reads it). Code that needs fewer levels asks for `Pick<Log, ...>`, so tests pass small fakes.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

/** Fields are merged left to right into the line (Powertools' `...extraInput` shape). */
export interface Log {
  debug(message: string, ...fields: LogFields[]): void;
  info(message: string, ...fields: LogFields[]): void;
  warn(message: string, ...fields: LogFields[]): void;
  error(message: string, ...fields: LogFields[]): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(options: { level?: LogLevel; write?: (line: string) => void; base?: LogFields; now?: () => number } = {}): Log {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const log =
    (level: LogLevel) =>
    (message: string, ...fields: LogFields[]) => {
      if (RANK[level] < min) return;
      const time = new Date(now()).toISOString();
      // The line's own time, level and message win over same-named fields (a spot notice carries a `time`).
      write(JSON.stringify(Object.assign({ time, level, message }, options.base, ...fields, { time, level, message }), errorReplacer));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

/** The message of anything thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}
