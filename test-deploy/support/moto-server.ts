/**
 * moto_server on 127.0.0.1 at a free port, for the deploy test: started once per test file, stopped (by its
 * process id) in afterAll. moto is preinstalled with Python on these machines and in CI; when it is missing
 * the test fails at once with a message saying what to install.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface MotoServer {
  readonly endpoint: string;
  /** What moto printed (its request log and tracebacks), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Fail with a clear message when a preinstalled tool is absent (pip registries are not reachable here). */
export function requireTool(name: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not on PATH: ${hint}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      // Any HTTP answer means it listens.
      await fetch(`${endpoint}/moto-api/`);
      return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
}

export async function startMoto(): Promise<MotoServer> {
  requireTool(
    'moto_server',
    'the deploy test needs moto 5.x with its server extra (pip install "moto[server]"), preinstalled with Python 3.11 on these machines',
  );
  let lastError: unknown;
  // A port found free can be taken before moto binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-200_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    try {
      await waitUntilUp(endpoint, child, 30_000);
    } catch (e) {
      lastError = new Error(`${(e as Error).message}\n${output.slice(-2000)}`);
      child.kill('SIGKILL');
      continue;
    }
    return {
      endpoint,
      log: () => output,
      stop: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    };
  }
  throw lastError;
}
