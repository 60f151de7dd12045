/**
 * The real worker bundle, run as GPU instances run it: one esbuild file (the options of
 * lib/compute/worker-bundle.ts) started as `node bundle.js config.json` in a child process per instance, each
 * with its own IMDS stub (instance id, spot notice, rebalance, draining tag) and its own fake model server.
 * Its JSON log lines are collected with the instance id; the test stops it with SIGKILL (a crash or a reclaim)
 * or SIGTERM (a graceful stop).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { WorkerConfig } from '../../lib/contracts';
import { ImdsStub, startImdsStub } from '../../test/support/imds-stub';
import { LogLine } from '../evidence';

const root = join(__dirname, '..', '..');

/** Bundle worker/index.ts once; returns the file's path. */
export async function buildWorkerBundle(): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'chaos-worker-')), 'index.js');
  await build({
    entryPoints: [join(root, 'worker', 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
    absWorkingDir: root,
  });
  return outfile;
}

export interface WorkerProcessOptions {
  readonly bundle: string;
  readonly instanceId: string;
  /** The config without imdsEndpoint and model server URL, which are the instance's own. */
  readonly config: WorkerConfig;
  readonly modelBaseUrl: string;
  /** AWS_ENDPOINT_URL_* and credentials. */
  readonly env: Record<string, string>;
  readonly logs: LogLine[];
}

export class WorkerProcess {
  static async start(o: WorkerProcessOptions): Promise<WorkerProcess> {
    const imds = await startImdsStub({ instanceId: o.instanceId });
    const path = join(mkdtempSync(join(tmpdir(), 'chaos-config-')), 'worker.json');
    const modelServer = { ...o.config.modelServer, baseUrl: o.modelBaseUrl };
    writeFileSync(path, JSON.stringify({ ...o.config, imdsEndpoint: imds.endpoint, modelServer }));
    const child = spawn(process.execPath, [o.bundle, path], { env: { PATH: process.env.PATH ?? '', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new WorkerProcess(o.instanceId, imds, child, o.logs);
  }

  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  stderr = '';
  private alive = true;
  private stopping?: Promise<number | null>;

  private constructor(
    readonly instanceId: string,
    readonly imds: ImdsStub,
    private readonly child: ChildProcess,
    logs: LogLine[],
  ) {
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.alive = false;
        rejectReady(new Error(`worker ${instanceId} exited (${code}) before it was ready: ${this.stderr.slice(-500)}`));
        resolve(code);
      }),
    );
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const text of lines) {
        let o: { time?: string; message?: string; jobId?: unknown };
        try {
          o = JSON.parse(text);
        } catch {
          continue;
        }
        if (typeof o.message !== 'string') continue;
        const time = Date.parse(o.time ?? '') || Date.now();
        logs.push({ instanceId, time, message: o.message, ...(typeof o.jobId === 'string' ? { jobId: o.jobId } : {}) });
        if (o.message === 'worker ready') resolveReady();
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
  }

  get running(): boolean {
    return this.alive;
  }

  /** Send `signal`; resolves when the process has exited (bounded: SIGKILL after `graceMs`). Once only. */
  stop(signal: NodeJS.Signals, graceMs = 10_000): Promise<number | null> {
    this.stopping ??= (async () => {
      if (this.alive) this.child.kill(signal);
      const timer = setTimeout(() => {
        if (this.alive) this.child.kill('SIGKILL');
      }, graceMs);
      const code = await this.exited;
      clearTimeout(timer);
      await this.imds.close();
      return code;
    })();
    return this.stopping;
  }
}
