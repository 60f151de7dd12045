/**
 * `ai-burst stage-model` against a local hub stand-in (with a second server as its CDN) and s3rver. s3rver has no
 * ListMultipartUploads, ListParts or AbortMultipartUpload: those three, and only those, are answered from a ledger of
 * the real multipart calls (test/support/multipart-ledger.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCommandInput,
  UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../tools/bin/ai-burst';
import { stageModelCommand } from '../../tools/bin/stage-model';
import { InputError } from '../../tools/cost/errors';
import { FakeHub, HubModelSpec, MAIN_COMMIT, startFakeHub } from '../support/fake-hub';
import { clientConfig, LocalServer, startS3, uniqueName } from '../support/local-aws';
import { MultipartLedger, withMultipartLedger } from '../support/multipart-ledger';

const BUCKET = 'models';
const MIB = 2 ** 20;
const TOKEN = 'hf_test_secret_token_1234';
const big = randomBytes(2 * 5 * MIB + 12345); // three parts at --part-size-mib 5
const files = [
  { path: 'config.json', content: Buffer.from(JSON.stringify({ architectures: ['TinyLlm'], hidden_size: 64 })) },
  { path: 'README.md', content: Buffer.from('# tiny\n') },
  { path: 'empty.txt', content: Buffer.alloc(0) },
  { path: 'tokenizer/tokenizer.json', content: Buffer.from(JSON.stringify({ vocab: { a: 1, b: 2 } })) },
  { path: 'adapter.safetensors', content: randomBytes(3000), lfs: true },
  { path: 'model.safetensors', content: big, lfs: true },
];
const MODEL: HubModelSpec = { id: 'acme/tiny-llm', files, refs: { main: MAIN_COMMIT, v1: 'feedfacefeedfacefeedfacefeedfacefeedface' } };
const PRIVATE: HubModelSpec = { id: 'acme/private-llm', files: files.slice(0, 2), token: TOKEN };
const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

let hub: FakeHub;
let s3: LocalServer<S3Client>;
let ledger: MultipartLedger;
let stateDir: string;

beforeAll(async () => {
  hub = await startFakeHub([MODEL, PRIVATE]);
  s3 = await startS3([BUCKET]);
  ledger = withMultipartLedger(s3.client);
  stateDir = mkdtempSync(join(tmpdir(), 'stage-model-state-'));
});
afterAll(async () => {
  ledger.restore();
  await hub.close();
  await s3.close();
  rmSync(stateDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface StageSetup {
  readonly tty?: boolean;
  readonly client?: S3Client;
  readonly idleTimeoutMs?: number;
  readonly hubUrl?: string;
}

/** The command in-process, with InputError → exit 2 as `main` does. */
async function stage(args: string[], env: NodeJS.ProcessEnv = {}, setup: StageSetup = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await stageModelCommand(['--hub-url', setup.hubUrl ?? hub.url, ...args], {
      s3: setup.client ?? s3.client,
      env,
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s), isTTY: setup.tty },
      stateDir,
      hub: { retryDelayMs: () => 0, attempts: 2, idleTimeoutMs: setup.idleTimeoutMs ?? 5000 },
    });
    return { code, stdout: out.join(''), stderr: err.join('') };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { code: 2, stdout: out.join(''), stderr: `${err.join('')}ai-burst: ${e.message}\n` };
  }
}

async function object(key: string): Promise<{ body: Buffer; metadata: Record<string, string> } | undefined> {
  try {
    const r = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { body: Buffer.from(await r.Body!.transformToByteArray()), metadata: r.Metadata ?? {} };
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
}

async function keys(prefix: string): Promise<string[]> {
  const r = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  return (r.Contents ?? []).map((o) => o.Key as string).sort();
}

function uploadsOf(key: string) {
  return [...ledger.uploads.values()].filter((u) => u.key === key);
}

const since = (n: number) => hub.requests.slice(n);

describe('GIVEN a public model WHEN staged, then staged again', () => {
  const prefix = uniqueName('tiny');
  const s3Url = `s3://${BUCKET}/${prefix}`;
  let first: Run;
  let firstRequests: typeof hub.requests;

  beforeAll(async () => {
    const n = hub.requests.length;
    first = await stage(['--model', MODEL.id, '--s3', s3Url, '--part-size-mib', '5', '--concurrency', '2'], { HF_TOKEN: TOKEN });
    firstRequests = since(n);
  });

  test('THEN every file lands byte-identical under the prefix, with its sha256 / git blob id as metadata', async () => {
    expect(first.stderr).not.toMatch(/FAILED|internal/);
    expect(first.code).toBe(0);
    expect(await keys(prefix)).toEqual(files.map((f) => `${prefix}/${f.path}`).sort());
    for (const f of files) {
      const o = await object(`${prefix}/${f.path}`);
      expect(o && Buffer.compare(o.body, f.content)).toBe(0);
      expect(o?.metadata['hf-source']).toBe(`${MODEL.id}@${MAIN_COMMIT}`);
      if (f.lfs) expect(o?.metadata.sha256).toBe(sha256(f.content));
      else expect(o?.metadata['git-oid']).toBe(createHash('sha1').update(`blob ${f.content.length}\0`).update(f.content).digest('hex'));
    }
  });

  test('THEN the large file went up in three parts fetched with Range requests from the CDN, and no upload is left open', () => {
    const ranges = hub
      .downloads('model.safetensors')
      .filter((r) => r.server === 'cdn')
      .map((r) => r.range);
    expect(ranges.sort()).toEqual([`bytes=0-${5 * MIB - 1}`, `bytes=${10 * MIB}-${big.length - 1}`, `bytes=${5 * MIB}-${10 * MIB - 1}`]);
    const [upload] = uploadsOf(`${prefix}/model.safetensors`);
    expect(upload.parts.size).toBe(3);
    expect(upload.status).toBe('completed');
    expect(uploadsOf(`${prefix}/adapter.safetensors`)).toEqual([]); // one part's worth: a single PUT
    expect(readdirSync(stateDir)).toEqual([]);
  });

  test('THEN the token goes to the hub on every request and never to the CDN the hub redirects to', () => {
    const toHub = firstRequests.filter((r) => r.server === 'hub');
    const toCdn = firstRequests.filter((r) => r.server === 'cdn');
    expect(toHub.length).toBeGreaterThan(3);
    expect(toCdn.length).toBeGreaterThanOrEqual(4);
    expect(toHub.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(toCdn.filter((r) => r.authorization !== undefined)).toEqual([]);
    // The tree API's next-page links name huggingface.co; the client stayed on the hub it was given.
    expect(toHub.filter((r) => r.path.includes('/tree/')).length).toBe(4); // 7 entries (a folder too), 2 a page
    expect(first.stdout + first.stderr).not.toContain(TOKEN);
  });

  test('THEN stdout names the bucket and prefix for ModelWeights.fromBucket; stderr has one line per file', () => {
    expect(first.stdout).toContain(`Staged ${MODEL.id} at main (commit ${MAIN_COMMIT.slice(0, 12)}) in s3://${BUCKET}/${prefix}/`);
    expect(first.stdout).toContain(`ModelWeights.fromBucket(s3.Bucket.fromBucketName(this, 'ModelBucket', '${BUCKET}'), '${prefix}')`);
    expect(first.stdout).toMatch(new RegExp(`^  bucket: ${BUCKET}$`, 'm'));
    expect(first.stdout).toMatch(new RegExp(`^  prefix: ${prefix}$`, 'm'));
    const lines = first.stderr.trim().split('\n');
    expect(lines).toHaveLength(files.length);
    expect(lines.every((l) => /^ai-burst: stage-model: \[\d\/6\] copied \S+ \(.*fetched .* at .*\/s\)$/.test(l))).toBe(true);
    expect(first.stderr).not.toMatch(/\r/);
  });

  test('WHEN run again THEN everything is skipped without fetching any file body', async () => {
    const n = hub.requests.length;
    const again = await stage(['--model', MODEL.id, '--s3', s3Url, '--part-size-mib', '5', '--json'], { HF_TOKEN: TOKEN });
    expect(again.code).toBe(0);
    expect(hub.downloads().filter((r) => hub.requests.indexOf(r) >= n)).toEqual([]);
    expect(since(n).filter((r) => r.server === 'cdn')).toEqual([]);
    const report = JSON.parse(again.stdout);
    expect(report.files.map((f: { result: string }) => f.result)).toEqual(files.map(() => 'skipped'));
    expect(report).toMatchObject({ complete: true, commit: MAIN_COMMIT, modelWeights: { bucket: BUCKET, prefix }, totals: { fetchedBytes: 0 } });
    expect(again.stderr.match(/skipped/g)).toHaveLength(files.length);
  });

  test('WHEN an object of the same size but other content is there THEN it is copied again; a stray object is pointed out', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/config.json`, Body: Buffer.alloc(files[0].content.length, 0x20) }));
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/old-shard.safetensors`, Body: 'x' }));
    const n = hub.requests.length;
    const r = await stage(['--model', MODEL.id, '--s3', s3Url, '--part-size-mib', '5']);
    expect(r.code).toBe(0);
    expect(
      hub
        .downloads()
        .filter((q) => hub.requests.indexOf(q) >= n)
        .map((q) => q.path),
    ).toEqual([`/${MODEL.id}/resolve/${MAIN_COMMIT}/config.json`]);
    expect(Buffer.compare((await object(`${prefix}/config.json`))!.body, files[0].content)).toBe(0);
    expect(r.stderr).toMatch(/1 object\(s\) under s3:\/\/models\/.*\/ are no file of acme\/tiny-llm at this commit.*old-shard\.safetensors/);
  });
});

describe('GIVEN a download that breaks', () => {
  test('WHEN the connection drops once mid-part THEN that part is fetched again from the byte where it stopped', async () => {
    const prefix = uniqueName('drop-once');
    const at = 5 * MIB + 777;
    hub.faults.drops.push({ path: 'model.safetensors', atByte: at, times: 1 });
    const n = hub.requests.length;
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--include', 'model.safetensors']);
    expect(r.code).toBe(0);
    const ranges = since(n)
      .filter((q) => q.server === 'cdn')
      .map((q) => q.range);
    expect(ranges).toContain(`bytes=${at}-${10 * MIB - 1}`);
    expect(Buffer.compare((await object(`${prefix}/model.safetensors`))!.body, big)).toBe(0);
  });

  test('WHEN a download stalls THEN it is given up after the idle timeout and fetched again from where it stopped', async () => {
    const prefix = uniqueName('stall');
    const at = 3 * MIB + 5;
    hub.faults.drops.push({ path: 'model.safetensors', atByte: at, times: 1, stall: true });
    const n = hub.requests.length;
    const r = await stage(
      ['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--include', 'model.*'],
      {},
      { idleTimeoutMs: 300 },
    );
    expect(r.code).toBe(0);
    expect(
      since(n)
        .filter((q) => q.server === 'cdn')
        .map((q) => q.range),
    ).toContain(`bytes=${at}-${5 * MIB - 1}`);
    expect(Buffer.compare((await object(`${prefix}/model.safetensors`))!.body, big)).toBe(0);
  });

  test('WHEN a part keeps failing THEN exit 1 with the upload left open; the next run fetches only the missing part and completes', async () => {
    const prefix = uniqueName('resume');
    const key = `${prefix}/model.safetensors`;
    const args = ['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--concurrency', '1'];
    const fault = { path: 'model.safetensors', atByte: 10 * MIB + 100 };
    hub.faults.drops.push(fault);
    const broken = await stage(args);
    hub.faults.drops.splice(hub.faults.drops.indexOf(fault), 1);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      /FAILED model\.safetensors: model\.safetensors: the download broke at byte 10485860 of 10498105 \(UND_ERR_SOCKET\) \(2 attempts\)\n/,
    );
    expect(broken.stderr).toMatch(/1 of 6 files failed .*Run the same command again/);
    expect(broken.stdout).toBe('');
    expect(await object(key)).toBeUndefined();
    const [upload] = uploadsOf(key);
    expect(upload.status).toBe('open');
    expect([...upload.parts.keys()]).toEqual([1, 2]);
    expect((await keys(prefix)).length).toBe(5); // the other files are in

    const dry = await stage([...args, '--dry-run']);
    expect(dry.stdout).toMatch(/^ {2}resume +10\.0 MiB {2}model\.safetensors \(2 of 3 parts in S3\)$/m);

    const n = hub.requests.length;
    const mockedBefore = ledger.mockedCalls().length;
    const resumed = await stage(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed model\.safetensors \(10\.0 MiB, 2 of 3 parts were in S3 already; fetched 12\.1 KiB/);
    const downloads = hub.downloads().filter((q) => hub.requests.indexOf(q) >= n);
    expect(downloads.filter((q) => q.server === 'cdn').map((q) => q.range)).toEqual([`bytes=${10 * MIB}-${big.length - 1}`]);
    expect(downloads.filter((q) => q.server === 'hub').map((q) => q.path)).toEqual([`/${MODEL.id}/resolve/${MAIN_COMMIT}/model.safetensors`]);
    expect(upload.status).toBe('completed');
    expect(uploadsOf(key)).toHaveLength(1);
    const o = await object(key);
    expect(Buffer.compare(o!.body, big)).toBe(0);
    expect(o!.metadata.sha256).toBe(sha256(big));
    expect(ledger.mockedCalls().slice(mockedBefore)).toEqual(['ListMultipartUploads', 'ListParts']);
    expect(readdirSync(stateDir)).toEqual([]);
  });
});

describe('GIVEN an upload that breaks (injected into UploadPart: s3rver cannot fail on cue)', () => {
  // The mock replaces send on the client instance; the prototype's is s3rver's way in.
  const realSend = S3Client.prototype.send as (this: S3Client, command: UploadPartCommand) => Promise<UploadPartCommandOutput>;
  const passThrough = (input: UploadPartCommandInput): Promise<UploadPartCommandOutput> => realSend.call(s3.client, new UploadPartCommand(input));
  /** Fails the first UploadPart of `key` matching `part` with `error`; every other UploadPart goes to s3rver. */
  function failUploadPartOnce(key: string, part: number, error: Error, before?: (input: UploadPartCommandInput) => void): void {
    let failed = false;
    ledger.mock.on(UploadPartCommand).callsFake(async (input: UploadPartCommandInput) => {
      if (!failed && input.Key === key && input.PartNumber === part) {
        failed = true;
        before?.(input);
        throw error;
      }
      return passThrough(input);
    });
  }
  afterEach(() => ledger.mock.on(UploadPartCommand).callsFake(passThrough));

  test('WHEN part 2 fails after part 3 went up THEN the resume uploads part 2 only, hashing part 3 again without uploading it', async () => {
    const prefix = uniqueName('gap');
    const key = `${prefix}/model.safetensors`;
    const args = ['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--include', 'model.*', '--concurrency', '3'];
    // Part 2 fails only once part 3 is in: a gap the next run must not trust past.
    let partThreeIn!: () => void;
    const three = new Promise<void>((resolve) => (partThreeIn = resolve));
    ledger.mock.on(UploadPartCommand).callsFake(async (input: UploadPartCommandInput) => {
      if (input.Key === key && input.PartNumber === 2) {
        await three;
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      }
      const r = await passThrough(input);
      if (input.Key === key && input.PartNumber === 3) partThreeIn();
      return r;
    });
    const broken = await stage(args);
    ledger.mock.on(UploadPartCommand).callsFake(passThrough);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/FAILED model\.safetensors: TimeoutError: socket hang up\n/);
    const [upload] = uploadsOf(key);
    expect([...upload.parts.keys()].sort()).toEqual([1, 3]);

    const n = hub.requests.length;
    const uploadsOfPart = (part: number): number =>
      ledger.mock.commandCalls(UploadPartCommand).filter((c) => c.args[0].input.Key === key && c.args[0].input.PartNumber === part).length;
    const [twoBefore, threeBefore] = [uploadsOfPart(2), uploadsOfPart(3)];
    const resumed = await stage(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed model\.safetensors \(10\.0 MiB, 1 of 3 parts were in S3 already/);
    const ranges = since(n)
      .filter((q) => q.server === 'cdn')
      .map((q) => q.range)
      .sort();
    expect(ranges).toEqual([`bytes=${10 * MIB}-${big.length - 1}`, `bytes=${5 * MIB}-${10 * MIB - 1}`]);
    expect([uploadsOfPart(2) - twoBefore, uploadsOfPart(3) - threeBefore]).toEqual([1, 0]); // part 3 hashed again, not uploaded again
    expect(upload.status).toBe('completed');
    expect(Buffer.compare((await object(key))!.body, big)).toBe(0);
  });

  test('WHEN the upload is gone (aborted elsewhere) THEN that file fails saying so, and the next run starts it over', async () => {
    const prefix = uniqueName('gone');
    const key = `${prefix}/model.safetensors`;
    const args = ['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--include', 'model.*'];
    const gone = Object.assign(new Error('The specified upload does not exist'), { name: 'NoSuchUpload' });
    // As a lifecycle rule would: the upload disappears from the listing too.
    failUploadPartOnce(key, 1, gone, (input) => (ledger.uploads.get(input.UploadId as string)!.status = 'aborted'));
    const broken = await stage(args);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      /FAILED model\.safetensors: its multipart upload is gone \(aborted by a lifecycle rule or by hand\?\); the next run starts it over\n/,
    );
    expect(readdirSync(stateDir)).toEqual([]);
    const again = await stage(args);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/not started from this machine/);
    expect(uploadsOf(key).map((u) => u.status)).toEqual(['aborted', 'completed']);
    expect(Buffer.compare((await object(key))!.body, big)).toBe(0);
  });
});

describe('GIVEN bytes that do not match the hub’s sha256', () => {
  test('WHEN a multipart file is corrupt THEN its upload is aborted, nothing is stored, exit 1, the other files land', async () => {
    const prefix = uniqueName('corrupt');
    const key = `${prefix}/model.safetensors`;
    hub.faults.corrupt.add('model.safetensors');
    const mockedBefore = ledger.mockedCalls().length;
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5']).finally(() =>
      hub.faults.corrupt.delete('model.safetensors'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED model.safetensors: model.safetensors: sha256 of the fetched bytes is ${sha256(Buffer.from(big.map((b, i) => (i === 0 ? b ^ 0xff : b))))}, ` +
        `the hub lists ${sha256(big)}; the partial upload was deleted`,
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(await object(key)).toBeUndefined();
    expect(uploadsOf(key).map((u) => u.status)).toEqual(['aborted']);
    expect(ledger.mockedCalls().slice(mockedBefore)).toEqual(['ListMultipartUploads', 'AbortMultipartUpload']);
    expect(await keys(prefix)).toHaveLength(5);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  test('WHEN a single-PUT LFS file is corrupt THEN nothing is stored for it', async () => {
    const prefix = uniqueName('corrupt-small');
    hub.faults.corrupt.add('adapter.safetensors');
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--include', 'adapter.*']).finally(() =>
      hub.faults.corrupt.delete('adapter.safetensors'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /FAILED adapter\.safetensors: adapter\.safetensors: sha256 of the fetched bytes is [0-9a-f]{64}, the hub lists [0-9a-f]{64}\n/,
    );
    expect(await keys(prefix)).toEqual([]);
  });
});

describe('GIVEN the hub refuses', () => {
  test.each<[string, string[], NodeJS.ProcessEnv, RegExp]>([
    [
      'an unknown model with a token',
      ['--model', 'acme/nope'],
      { HF_TOKEN: TOKEN },
      /model acme\/nope not found on http:\/\/127\.0\.0\.1:\d+ \(404\): check --model/,
    ],
    [
      'an unknown model without a token',
      ['--model', 'acme/nope'],
      {},
      /acme\/nope not found, or private or gated \(401 without a token\): check --model, or set HF_TOKEN/,
    ],
    [
      'a private model without a token',
      ['--model', PRIVATE.id],
      {},
      /acme\/private-llm not found, or private or gated \(401 without a token\).*set HF_TOKEN/,
    ],
    [
      'a private model with a wrong token',
      ['--model', PRIVATE.id],
      { HF_TOKEN: 'hf_wrong' },
      /the hub refused HF_TOKEN for acme\/private-llm \(401\)/,
    ],
    [
      'an unknown revision',
      ['--model', MODEL.id, '--revision', 'v9'],
      {},
      /revision "v9" not found in acme\/tiny-llm \(--revision takes a branch, tag or commit\)/,
    ],
    [
      'an --include that matches nothing',
      ['--model', MODEL.id, '--include', '*.gguf'],
      {},
      /--include: no file of acme\/tiny-llm matches \*\.gguf \(files: /,
    ],
  ])('%s THEN one line saying what to fix, exit 2, nothing fetched or stored', async (_n, args, env, message) => {
    const prefix = uniqueName('refused');
    const n = hub.requests.length;
    const r = await stage([...args, '--s3', `s3://${BUCKET}/${prefix}`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^ai-burst: (stage-model: )?${message.source}`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('hf_wrong');
    expect(hub.downloads().filter((q) => hub.requests.indexOf(q) >= n)).toEqual([]);
    expect(await keys(prefix)).toEqual([]);
  });

  test('GIVEN a hub URL where nothing listens THEN one line naming it, exit 2', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/nowhere`], {}, { hubUrl: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^ai-burst: stage-model: cannot reach the hub at http:\/\/127\.0\.0\.1:\d+ for acme\/tiny-llm revision main \(ECONNREFUSED\)\n$/,
    );
  });

  test('GIVEN the right token for a private model THEN it is staged', async () => {
    const prefix = uniqueName('private');
    const r = await stage(['--model', PRIVATE.id, '--s3', `s3://${BUCKET}/${prefix}`], { HF_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(await keys(prefix)).toEqual([`${prefix}/README.md`, `${prefix}/config.json`]);
  });
});

describe('GIVEN S3 refuses', () => {
  test('GIVEN no such bucket THEN one line naming it, exit 2, nothing fetched', async () => {
    const n = hub.requests.length;
    const r = await stage(['--model', MODEL.id, '--s3', 's3://no-such-bucket-here/m']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'ai-burst: stage-model: no bucket "no-such-bucket-here" (NoSuchBucket): create it, or check --s3 s3://no-such-bucket-here/m/\n',
    );
    expect(hub.downloads().filter((q) => hub.requests.indexOf(q) >= n)).toEqual([]);
  });

  /** A second client to s3rver whose one command is refused as IAM would (s3rver knows no policies: mocked). */
  async function denied(command: typeof ListObjectsV2Command | typeof PutObjectCommand, args: string[]): Promise<Run> {
    const client = new S3Client(
      await s3.client.config.endpoint!().then((e) => ({
        ...clientConfig(`${e.protocol}//${e.hostname}:${e.port}`),
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
      })),
    );
    const mock = mockClient(client);
    mock.send.callThrough();
    mock
      .on(command as typeof ListObjectsV2Command)
      .rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    try {
      return await stage(args, {}, { client });
    } finally {
      mock.restore();
      client.destroy();
    }
  }

  test('GIVEN AccessDenied on the listing THEN the message names s3:ListBucket, exit 2', async () => {
    const r = await denied(ListObjectsV2Command, ['--model', MODEL.id, '--s3', `s3://${BUCKET}/denied`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ai-burst: stage-model: not allowed (AccessDenied): your credentials need s3:ListBucket on arn:aws:s3:::models\n');
  });

  test('GIVEN AccessDenied on the first upload THEN the run stops with one line naming s3:PutObject, exit 2', async () => {
    const prefix = uniqueName('put-denied');
    const r = await denied(PutObjectCommand, ['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--include', '*.json', '--concurrency', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^ai-burst: stage-model: not allowed \(AccessDenied\): your credentials need s3:PutObject on arn:aws:s3:::models\/put-denied-[\d-]+\/config\.json\n$/,
    );
    expect(await keys(prefix)).toEqual([]);
  });
});

describe('options', () => {
  test('--dry-run lists each file and what a run would do, and fetches and uploads nothing', async () => {
    const prefix = uniqueName('dry');
    const n = hub.requests.length;
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--part-size-mib', '5', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Dry run \(nothing copied\): acme\/tiny-llm at main \(commit 0123456789ab\) → s3:\/\/models\/.*\/$/m);
    expect(r.stdout).toMatch(/^ {2}copy +10\.0 MiB {2}model\.safetensors \(3 parts\)$/m);
    expect(r.stdout).toMatch(/^ {2}copy +\d+ B {2}config\.json \(one PUT\)$/m);
    expect(r.stdout).toMatch(/^6 files, 10\.0 MiB: 6 to copy, 0 to resume/m);
    expect(hub.downloads().filter((q) => hub.requests.indexOf(q) >= n)).toEqual([]);
    expect(await keys(prefix)).toEqual([]);
    expect(uploadsOf(`${prefix}/model.safetensors`)).toEqual([]);
  });

  test('--include copies only the matching files; --revision takes a tag', async () => {
    const prefix = uniqueName('include');
    const r = await stage(['--model', MODEL.id, '--revision', 'v1', '--s3', `s3://${BUCKET}/${prefix}/`, '--include', '*.json,README.md']);
    expect(r.code).toBe(0);
    expect(await keys(prefix)).toEqual([`${prefix}/README.md`, `${prefix}/config.json`, `${prefix}/tokenizer/tokenizer.json`]);
    expect(r.stdout).toContain('at v1 (commit feedfacefeed)');
  });

  test('on a terminal the status line is redrawn in place and cleared before each file line', async () => {
    const prefix = uniqueName('tty');
    const r = await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--include', '*.json'], {}, { tty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\r\d\/2 files {2}.* of .* {2}.*\/s/);
    expect(
      r.stderr
        .replace(/\r[^\r\n]*\r/g, '')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
  });

  test.each<[string, string[], RegExp]>([
    ['no --model', ['--s3', 's3://models/x'], /--model: required/],
    ['a malformed model id', ['--model', 'a/b/c', '--s3', 's3://models/x'], /--model: expected org\/name/],
    ['no --s3', ['--model', 'a/b'], /--s3: required/],
    ['an s3 URL without s3://', ['--model', 'a/b', '--s3', 'models/x'], /--s3: expected s3:\/\/bucket\/prefix, got "models\/x"/],
    ['a bad bucket name', ['--model', 'a/b', '--s3', 's3://Models/x'], /--s3: "Models" is not a bucket name/],
    [
      'a part size below S3’s minimum',
      ['--model', 'a/b', '--s3', 's3://models/x', '--part-size-mib', '4'],
      /--part-size-mib: expected an integer from 5 to 5120, got 4/,
    ],
    ['concurrency 0', ['--model', 'a/b', '--s3', 's3://models/x', '--concurrency', '0'], /--concurrency: expected an integer from 1 to 32, got 0/],
    ['an unknown flag', ['--model', 'a/b', '--s3', 's3://models/x', '--revison', 'x'], /unknown flag --revison \(did you mean --revision\?/],
  ])('%s → exit 2 with the flag named, nothing asked of the hub', async (_n, args, message) => {
    const n = hub.requests.length;
    const r = await stage(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(since(n)).toEqual([]);
  });

  test('a plain-http hub other than this machine is refused while HF_TOKEN is set', async () => {
    const r = await stageModelCommand(['--model', 'a/b', '--s3', 's3://models/x', '--hub-url', 'http://mirror.example.com'], {
      s3: s3.client,
      env: { HF_TOKEN: TOKEN },
    }).catch((e: Error) => e);
    expect(r).toBeInstanceOf(InputError);
    expect((r as Error).message).toMatch(/--hub-url: http:\/\/mirror\.example\.com is plain http and HF_TOKEN is set/);
    expect((r as Error).message).not.toContain(TOKEN);
  });
});

describe('through the ai-burst entry', () => {
  async function cli(...args: string[]): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const o = jest.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
    const e = jest.spyOn(process.stderr, 'write').mockImplementation((c) => (err.push(String(c)), true));
    try {
      return { code: await main(args), stdout: out.join(''), stderr: err.join('') };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  test('`stage-model --help` prints its own usage, exit 0; the overview lists it', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await cli('stage-model', flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: ai-burst stage-model --model ORG\/NAME --s3 s3:\/\/BUCKET\/PREFIX/);
      expect(r.stdout).toMatch(/--part-size-mib M .*default 64/);
      expect(r.stdout).not.toMatch(/--docs-per-day|--function-name|--trace FILE/);
    }
    expect((await cli('--help')).stdout).toMatch(/ai-burst stage-model --model ORG\/NAME/);
  });

  test('an unknown model is exit 2 with one line, not an internal error', async () => {
    const saved = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      const r = await cli('stage-model', '--model', 'acme/nope', '--s3', 's3://models/x', '--hub-url', hub.url, '--region', 'us-east-1');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^ai-burst: stage-model: acme\/nope not found, or private or gated \(401 without a token\)/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      if (saved !== undefined) process.env.HF_TOKEN = saved;
    }
  });
});

describe('without AWS set-up (spawned with a clean environment)', () => {
  const ROOT = join(__dirname, '..', '..');
  function bare(...args: string[]): Promise<Run> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && k !== 'HF_TOKEN') env[k] = v;
    Object.assign(env, {
      AWS_CONFIG_FILE: join(ROOT, 'no-such-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(ROOT, 'no-such-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      XDG_CACHE_HOME: stateDir,
    });
    // Async: the hub stand-in lives in this process and must answer while the CLI runs.
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'tools', 'bin', 'ai-burst.ts'), ...args],
      {
        cwd: ROOT,
        env,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  }

  test.each<[string, string[], RegExp]>([
    ['no region', [], /^ai-burst: stage-model: no AWS region: pass --region R or set AWS_REGION/],
    [
      'a region but no credentials',
      ['--region', 'us-east-1'],
      /^ai-burst: stage-model: no AWS credentials found: set AWS_PROFILE .*AWS_ACCESS_KEY_ID/,
    ],
  ])('GIVEN %s THEN one line saying how to fix it, exit 2', async (_n, extra, message) => {
    const r = await bare('stage-model', '--model', MODEL.id, '--s3', 's3://models/x', '--hub-url', hub.url, ...extra);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|NodeVersionSupportWarning/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
  });
});

test('the object keys follow the model’s paths (folders kept) under the prefix', async () => {
  const prefix = uniqueName('keys');
  await stage(['--model', MODEL.id, '--s3', `s3://${BUCKET}/${prefix}`, '--include', 'tokenizer/']);
  const h = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/tokenizer/tokenizer.json` }));
  expect(h.ContentLength).toBe(files.find((f) => f.path === 'tokenizer/tokenizer.json')!.content.length);
});
