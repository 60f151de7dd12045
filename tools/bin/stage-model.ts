/**
 * `ai-burst stage-model`: copy a model's files from the Hugging Face hub into S3 once, so GPU instances copy them
 * from there at boot (`ModelWeights.fromBucket(bucket, prefix)`). Resumable: a second run skips what is complete
 * and finishes unfinished multipart uploads from their missing parts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { STAGE_MODEL_USAGE } from './usage';
import { flagList, flagString, parseFlags } from '../cost/cli-args';
import { InputError, requireInteger } from '../cost/errors';
import { HubClient, HubClientOptions } from '../stage-model/hub';
import { formatBytes } from '../stage-model/progress';
import { defaultStateDir, ResumeStore } from '../stage-model/resume-state';
import { StageReport, stageModel } from '../stage-model/stage';
import { parseS3Url } from '../stage-model/target';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const DEFAULT_PART_SIZE_MIB = 64;
export const DEFAULT_CONCURRENCY = 4;

export interface StageModelDeps {
  /** An S3 client to use instead of one built from --region and the default credential chain. */
  readonly s3?: S3Client;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown; readonly isTTY?: boolean };
  /** Where unfinished uploads are remembered (default: $XDG_CACHE_HOME/ai-burst/stage-model). */
  readonly stateDir?: string;
  /** Hub client settings for tests: retry delays, stall timeout, fetch. */
  readonly hub?: Pick<HubClientOptions, 'fetch' | 'retryDelayMs' | 'idleTimeoutMs' | 'attempts'>;
}

/** `org/name` (or a legacy `name`): letters, digits, '-', '_', '.'. */
const MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

function parseHubUrl(text: string, token: string | undefined): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(`--hub-url: expected a URL such as ${DEFAULT_HUB_URL}, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InputError(`--hub-url: expected http(s)://…, got ${JSON.stringify(text)}`);
  if (url.protocol === 'http:' && token && !LOOPBACK.test(url.hostname)) {
    throw new InputError(`--hub-url: ${url.origin} is plain http and HF_TOKEN is set: the token would travel unencrypted; use https`);
  }
  if (url.search || url.hash || url.username) throw new InputError(`--hub-url: expected the hub's base URL only, got ${JSON.stringify(text)}`);
  return url.href.replace(/\/+$/, '');
}

export async function stageModelCommand(argv: string[], deps: StageModelDeps = {}): Promise<number> {
  const v = parseFlags(
    argv,
    {
      model: 'string',
      revision: 'string',
      s3: 'string',
      region: 'string',
      'hub-url': 'string',
      include: 'string',
      concurrency: 'string',
      'part-size-mib': 'string',
      'dry-run': 'boolean',
      json: 'boolean',
    },
    'ai-burst stage-model',
  );
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  if (v.help) {
    stdout.write(STAGE_MODEL_USAGE);
    return 0;
  }
  const env = deps.env ?? process.env;
  const model = flagString(v.model);
  if (!model) throw new InputError('--model: required (the hub id, e.g. Qwen/Qwen2.5-7B-Instruct)');
  if (!MODEL_ID.test(model)) throw new InputError(`--model: expected org/name as on the hub, got ${JSON.stringify(model)}`);
  const s3Flag = flagString(v.s3);
  if (!s3Flag) throw new InputError('--s3: required (s3://bucket/prefix to copy the files under)');
  const target = parseS3Url(s3Flag);
  const revision = flagString(v.revision) ?? 'main';
  const token = env.HF_TOKEN?.trim() || undefined;
  const hubUrl = parseHubUrl(flagString(v['hub-url']) ?? (env.HF_ENDPOINT?.trim() || DEFAULT_HUB_URL), token);
  const concurrency = v.concurrency === undefined ? DEFAULT_CONCURRENCY : requireInteger(v.concurrency, '--concurrency', 1, 32);
  const partMiB = v['part-size-mib'] === undefined ? DEFAULT_PART_SIZE_MIB : requireInteger(v['part-size-mib'], '--part-size-mib', 5, 5120);
  const include = flagList(v.include);
  const region = flagString(v.region);

  // Integrity per part is Content-MD5 (copy-file.ts); the SDK's default CRC32 on UploadPart would give an upload
  // created without a checksum algorithm parts with one, a mix S3 has refused at CompleteMultipartUpload.
  const s3 = deps.s3 ?? new S3Client({ ...(region ? { region } : {}), followRegionRedirects: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  const hub = new HubClient(model, { hubUrl, token, ...deps.hub });
  const report = await stageModel(
    { model, revision, target, include, concurrency, partSize: partMiB * 2 ** 20, dryRun: Boolean(v['dry-run']) },
    { hub, s3, store: new ResumeStore(deps.stateDir ?? defaultStateDir(env)), stderr },
  ).finally(() => {
    if (!deps.s3) s3.destroy();
  });
  if (v.json) stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else stdout.write(report.dryRun ? dryRunText(report) : report.complete ? summaryText(report) : '');
  if (report.totals.failed > 0) {
    stderr.write(
      `ai-burst: stage-model: ${report.totals.failed} of ${report.totals.files} files failed (see above); the others are in S3. ` +
        'Run the same command again: it skips complete files and resumes unfinished uploads\n',
    );
    return 1;
  }
  return 0;
}

function source(r: StageReport): string {
  return `${r.model} at ${r.revision}${r.revision === r.commit ? '' : ` (commit ${r.commit.slice(0, 12)})`}`;
}

function summaryText(r: StageReport): string {
  const count = (result: string): number => r.files.filter((f) => f.result === result).length;
  return [
    `Staged ${source(r)} in ${r.s3Uri}`,
    `  ${r.totals.files} files, ${formatBytes(r.totals.bytes)}: ${count('copied')} copied, ${count('resumed')} resumed, ` +
      `${count('skipped')} already there; fetched ${formatBytes(r.totals.fetchedBytes)} in ${r.totals.seconds} s`,
    'GPU instances copy it at boot with:',
    `  ModelWeights.fromBucket(s3.Bucket.fromBucketName(this, 'ModelBucket', '${r.bucket}'), '${r.prefix}')`,
    `  bucket: ${r.bucket}`,
    `  prefix: ${r.prefix === '' ? "'' (the bucket's root)" : r.prefix}`,
    '',
  ].join('\n');
}

function dryRunText(r: StageReport): string {
  const lines = [`Dry run (nothing copied): ${source(r)} → ${r.s3Uri}`];
  for (const f of r.files) {
    const why =
      f.action === 'skip'
        ? 'already in S3'
        : f.action === 'resume'
          ? `${f.partsInS3} of ${f.parts} parts in S3`
          : f.parts > 1
            ? `${f.parts} parts`
            : 'one PUT';
    lines.push(`  ${f.action.padEnd(7)}${formatBytes(f.size).padStart(11)}  ${f.path} (${why})`);
  }
  const n = (a: string): number => r.files.filter((f) => f.action === a).length;
  lines.push(
    `${r.totals.files} files, ${formatBytes(r.totals.bytes)}: ${n('copy')} to copy, ${n('resume')} to resume ` +
      `(${formatBytes(r.totals.toCopyBytes)} to fetch), ${n('skip')} already in S3`,
  );
  lines.push(`Then: ModelWeights.fromBucket(<bucket ${r.bucket}>, '${r.prefix}')`, '');
  return lines.join('\n');
}
