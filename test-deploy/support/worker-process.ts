/**
 * The worker as a GPU instance would run it: the launch template's user data (as moto resolved it) says which
 * S3 object to download and which config file to write; this downloads that object from moto's bootstrap
 * bucket, writes the config from the user data's heredoc, runs the user data's own price-fill step on it, and
 * starts the bundle with Node, the SDK pointed at moto.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DescribeAutoScalingGroupsCommand, AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { motoEnv } from './deploy-stack';

// Paths in the user data are written under "$R" (AI_BURST_ROOT, empty on an instance): the parser drops that prefix.
const HEREDOC = /^cat > (?:"\$R")?(\S+) <<'([A-Z_]+)'\n([\s\S]*?)\n\2$/gm;
const unrooted = (p: string) => p.replace(/^"\$R"/, '');

export interface UserData {
  readonly script: string;
  /** path → content of every file the script writes with a heredoc. */
  readonly files: Readonly<Record<string, string>>;
  /** The `aws s3 cp s3://bucket/key dest` step. */
  readonly download: { readonly bucket: string; readonly key: string; readonly dest: string };
  /** The worker unit's ExecStart (`/usr/bin/node-22 /opt/ai-burst/worker/index.js`). */
  readonly execStart: string;
}

/** The deployed group's launch template user data, decoded and parsed. */
export async function deployedUserData(endpoint: string, region: string, groupName: string): Promise<UserData> {
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const asg = new AutoScalingClient({ region, endpoint, credentials });
  const ec2 = new EC2Client({ region, endpoint, credentials });
  try {
    const group = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }))).AutoScalingGroups?.[0];
    const spec = group?.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification ?? group?.LaunchTemplate;
    if (!spec?.LaunchTemplateId) throw new Error(`group ${groupName} has no launch template`);
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: spec.LaunchTemplateId,
        Versions: [spec.Version ?? '$Latest'],
      }),
    );
    const encoded = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.UserData;
    if (!encoded) throw new Error(`launch template ${spec.LaunchTemplateId} has no user data`);
    return parseUserData(Buffer.from(encoded, 'base64').toString('utf8'));
  } finally {
    asg.destroy();
    ec2.destroy();
  }
}

export function parseUserData(script: string): UserData {
  const files: Record<string, string> = {};
  for (const m of script.matchAll(HEREDOC)) files[m[1]] = m[3];
  const cp = /^aws s3 cp '?s3:\/\/([^/\s']+)\/([^\s']+)'? (\S+)/m.exec(script);
  if (!cp) throw new Error('the user data downloads no worker bundle (no `aws s3 cp s3://…` line)');
  const unit = Object.entries(files).find(([p]) => p.endsWith('ai-burst-worker.service'));
  const execStart = /^ExecStart=(.+)$/m.exec(unit?.[1] ?? '')?.[1];
  if (!execStart) throw new Error('the user data writes no worker unit with an ExecStart');
  return { script, files, download: { bucket: cp[1], key: cp[2], dest: unrooted(cp[3]) }, execStart };
}

/**
 * Lay the instance's files out under `root` (paths kept, rooted there): the downloaded bundle, every heredoc
 * file, then the user data's own `node -e` steps (the price fill), run with this Node on the rooted paths.
 * Returns the rooted paths of the bundle and of the config the unit's ExecStart reads.
 */
export async function layOutInstance(opts: {
  endpoint: string;
  region: string;
  userData: UserData;
  root: string;
  configPath: string;
}): Promise<{ bundle: string; config: string }> {
  const { userData: u, root } = opts;
  const rooted = (p: string) => path.join(root, p);
  const s3 = new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: u.download.bucket, Key: u.download.key }));
    fs.mkdirSync(path.dirname(rooted(u.download.dest)), { recursive: true });
    fs.writeFileSync(rooted(u.download.dest), Buffer.from(await object.Body!.transformToByteArray()));
  } finally {
    s3.destroy();
  }
  for (const [p, content] of Object.entries(u.files)) {
    fs.mkdirSync(path.dirname(rooted(p)), { recursive: true });
    fs.writeFileSync(rooted(p), `${content}\n`);
  }
  for (const m of u.script.matchAll(/^(?:\/usr\/bin\/)?node-\d+ -e '([^']*)' (.+)$/gm)) {
    execFileSync(process.execPath, ['-e', m[1], ...m[2].split(' ').map((a) => rooted(unrooted(a)))], { stdio: 'pipe' });
  }
  const bundle = u.execStart.split(' ')[1];
  if (rooted(bundle) !== rooted(u.download.dest)) throw new Error(`the unit runs ${bundle}, the user data downloads ${u.download.dest}`);
  return { bundle: rooted(bundle), config: rooted(opts.configPath) };
}

export interface WorkerProcess {
  readonly logs: Array<Record<string, any>>;
  /** Resolves with the first log line (JSON) that matches, also one logged before the call. */
  waitFor(predicate: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

export function runWorker(bundle: string, configPath: string, endpoint: string, region: string): WorkerProcess {
  const child: ChildProcess = spawn(process.execPath, [bundle, configPath], {
    env: { PATH: process.env.PATH, ...motoEnv(endpoint, region), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, any>> = [];
  const waiters: Array<{ predicate: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }> = [];
  let buffered = '';
  const tail = () =>
    logs
      .slice(-15)
      .map((l) => JSON.stringify(l))
      .join('\n');
  const onLine = (line: string) => {
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = { message: line, level: 'raw' };
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.predicate(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  const onData = (b: Buffer) => {
    buffered += b.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.filter((l) => l.trim()).forEach(onLine);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    logs,
    exited,
    kill: (signal) => child.kill(signal),
    waitFor: (predicate, timeoutMs = 30_000) => {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`worker: no matching log line within ${timeoutMs} ms; last lines:\n${tail()}`));
        }, timeoutMs);
        const w = {
          predicate,
          resolve: (l: Record<string, any>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.includes(w)) return;
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(timer);
          reject(new Error(`worker exited (${code ?? signal}) before the awaited log line; last lines:\n${tail()}`));
        });
      });
    },
  };
}
