/**
 * Deploy a synthesized stack into moto the way `cdk deploy` does with the default synthesizer, minus the
 * bootstrap roles: publish every file asset to the bootstrap bucket (directories zipped), record the bootstrap
 * version in SSM, then CreateStack from the template's S3 URL and wait for CREATE_COMPLETE. Control-plane
 * calls go through the preinstalled AWS CLI (no extra npm dependency); the assets through the SDK's S3 client.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CfnTemplate, StackArtifact } from './cloud-assembly';

/** Credentials and region every client and child process uses against moto (moto accepts any keys). */
export function motoEnv(endpoint: string, region: string): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL: endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

export interface Cli {
  (args: string[]): any;
}

/** `aws <args> --output json` against moto; parsed JSON (or undefined for no output). */
export function awsCli(endpoint: string, region: string): Cli {
  return (args: string[]) => {
    const out = execFileSync('aws', [...args, '--endpoint-url', endpoint, '--region', region, '--output', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, ...motoEnv(endpoint, region), AWS_PAGER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    return out.trim() ? JSON.parse(out) : undefined;
  };
}

function zipDirectory(dir: string, zipFile: string): void {
  // Entries relative to the directory, as the CDK CLI zips an asset (python3 is there with moto).
  execFileSync('python3', [
    '-c',
    [
      'import os, sys, zipfile',
      'src, out = sys.argv[1], sys.argv[2]',
      'with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:',
      '    for root, _, files in sorted(os.walk(src)):',
      '        for f in sorted(files):',
      '            p = os.path.join(root, f); z.write(p, os.path.relpath(p, src))',
    ].join('\n'),
    dir,
    zipFile,
  ]);
}

export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  readonly account: string;
  readonly region: string;
  /** Logical id → physical id, as moto reports them (DescribeStackResources). */
  readonly physicalIds: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  /** Object key → base64 SHA-256 of what was uploaded (Lambda reports CodeSha256 the same way). */
  readonly publishedSha256: Readonly<Record<string, string>>;
  /** The template moto deployed (the synthesized one after the documented workarounds). */
  readonly template: CfnTemplate;
}

export async function deployStack(opts: { endpoint: string; region: string; stack: StackArtifact; template: CfnTemplate }): Promise<DeployedStack> {
  const { endpoint, region, stack } = opts;
  const cli = awsCli(endpoint, region);
  const account: string = cli(['sts', 'get-caller-identity']).Account;
  const resolve = (s: string) =>
    s
      .replace(/\$\{AWS::AccountId\}/g, account)
      .replace(/\$\{AWS::Region\}/g, region)
      .replace(/\$\{AWS::Partition\}/g, 'aws');
  const s3 = new S3Client({ region, endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-publish-'));
  try {
    const buckets = new Set(stack.assets.map((a) => resolve(a.bucketName)));
    for (const b of buckets) {
      await s3.send(new CreateBucketCommand({ Bucket: b })).catch((e) => {
        if (!/BucketAlready(OwnedByYou|Exists)/.test(String(e?.name))) throw e;
      });
    }
    const publishedSha256: Record<string, string> = {};
    for (const a of stack.assets) {
      let file = a.sourcePath;
      if (a.packaging === 'zip') {
        file = path.join(work, `${a.id}.zip`);
        zipDirectory(a.sourcePath, file);
      }
      const body = fs.readFileSync(file);
      publishedSha256[a.objectKey] = createHash('sha256').update(body).digest('base64');
      await s3.send(new PutObjectCommand({ Bucket: resolve(a.bucketName), Key: a.objectKey, Body: body }));
    }
    // The bootstrap stack's version parameter (the template's CheckBootstrapVersion rule reads it).
    if (stack.bootstrapVersionParameter) {
      cli(['ssm', 'put-parameter', '--name', stack.bootstrapVersionParameter, '--type', 'String', '--value', '30', '--overwrite']);
    }
    // The deployed template is published next to the assets, as `cdk deploy` does (too large for TemplateBody).
    const bucket = [...buckets][0];
    const key = `deploy-test/${stack.stackName}.template.json`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(opts.template) }));
    const created = cli([
      'cloudformation',
      'create-stack',
      '--stack-name',
      stack.stackName,
      '--template-url',
      `https://s3.${region}.amazonaws.com/${bucket}/${key}`,
      '--capabilities',
      'CAPABILITY_IAM',
      'CAPABILITY_NAMED_IAM',
      'CAPABILITY_AUTO_EXPAND',
    ]);
    const deadline = Date.now() + 120_000;
    let described: any;
    for (;;) {
      described = cli(['cloudformation', 'describe-stacks', '--stack-name', stack.stackName]).Stacks[0];
      if (!String(described.StackStatus).endsWith('_IN_PROGRESS')) break;
      if (Date.now() > deadline) throw new Error(`${stack.stackName} still ${described.StackStatus} after 120 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    if (described.StackStatus !== 'CREATE_COMPLETE') {
      const events = cli(['cloudformation', 'describe-stack-events', '--stack-name', stack.stackName])
        .StackEvents.filter((e: any) => /FAILED/.test(e.ResourceStatus))
        .map((e: any) => `${e.LogicalResourceId} (${e.ResourceType}): ${e.ResourceStatusReason}`);
      throw new Error(`${stack.stackName}: ${described.StackStatus} ${described.StackStatusReason ?? ''}\n${events.join('\n')}`);
    }
    const resources = cli(['cloudformation', 'describe-stack-resources', '--stack-name', stack.stackName]).StackResources as any[];
    return {
      stackName: stack.stackName,
      stackId: created.StackId,
      account,
      region,
      physicalIds: Object.fromEntries(resources.map((r) => [r.LogicalResourceId, r.PhysicalResourceId])),
      outputs: Object.fromEntries((described.Outputs ?? []).map((o: any) => [o.OutputKey, o.OutputValue])),
      template: opts.template,
      publishedSha256,
    };
  } finally {
    s3.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
