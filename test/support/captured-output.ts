/**
 * What a handler wrote to stdout/stderr while under test: Powertools log lines and EMF metric records
 * (one JSON object per line; EMF records carry `_aws`).
 */
export class CapturedOutput {
  private chunks: string[] = [];
  private spies: jest.SpyInstance[] = [];

  /** Start capturing (and silencing) `streams`. */
  public start(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): this {
    this.reset();
    this.spies = streams.map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        this.chunks.push(String(chunk));
        return true;
      }),
    );
    return this;
  }

  public stop(): void {
    this.spies.forEach((s) => s.mockRestore());
    this.spies = [];
  }

  /** Forget what was written so far (keeps capturing). */
  public reset(): void {
    this.chunks = [];
  }

  public text(): string {
    return this.chunks.join('');
  }

  public lines(): string[] {
    return this.text()
      .split('\n')
      .filter((l) => l !== '');
  }

  /** Every line that is a JSON object. */
  public records(): Array<Record<string, any>> {
    return this.lines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  }

  /** The EMF metric records. */
  public emf(): Array<Record<string, any>> {
    return this.records().filter((r) => r._aws);
  }
}

/** Capture stdout and stderr around each test of the enclosing `describe`. */
export function captureEachTest(): CapturedOutput {
  const output = new CapturedOutput();
  beforeEach(() => output.start());
  afterEach(() => output.stop());
  return output;
}
