/**
 * Progress on stderr: one line per file as it finishes (copied, resumed, skipped, failed) with the running count,
 * and on a terminal a status line under them (files, bytes, rate) redrawn at most 5 times a second.
 */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms <= 0 ? '–' : `${formatBytes(Math.round((bytes / ms) * 1000))}/s`;
}

export class Progress {
  private done = 0;
  private bytes = 0;
  private readonly started: number;
  private lastDraw = 0;
  private drawn = '';

  constructor(
    private readonly out: ProgressStream,
    private readonly totalFiles: number,
    /** Bytes this run is to fetch. */
    private readonly totalBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  get elapsedMs(): number {
    return this.now() - this.started;
  }

  get fetchedBytes(): number {
    return this.bytes;
  }

  /** Bytes fetched from the hub. */
  add(n: number): void {
    this.bytes += n;
    if (this.out.isTTY && this.now() - this.lastDraw >= 200) this.draw();
  }

  /** A file is finished: its line, e.g. `copied config.json (1.2 KiB)`. */
  file(line: string): void {
    this.done++;
    this.clear();
    this.out.write(`ai-burst: stage-model: [${this.done}/${this.totalFiles}] ${line}\n`);
    if (this.out.isTTY) this.draw();
  }

  /** A note that is not a file's end (an unknown upload, a retry). */
  note(line: string): void {
    this.clear();
    this.out.write(`ai-burst: stage-model: ${line}\n`);
    if (this.out.isTTY) this.draw();
  }

  finish(): void {
    this.clear();
  }

  private draw(): void {
    this.lastDraw = this.now();
    const line =
      `${this.done}/${this.totalFiles} files  ${formatBytes(this.bytes)} of ${formatBytes(this.totalBytes)}  ` +
      `${formatRate(this.bytes, this.elapsedMs)}`;
    this.out.write(`\r${line.padEnd(this.drawn.length)}`);
    this.drawn = line;
  }

  private clear(): void {
    if (!this.out.isTTY || !this.drawn) return;
    this.out.write(`\r${' '.repeat(this.drawn.length)}\r`);
    this.drawn = '';
  }
}
