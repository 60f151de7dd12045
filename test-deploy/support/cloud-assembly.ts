/**
 * The synthesized cloud assembly, read the way the CDK CLI reads it: manifest.json names each stack's template
 * and its asset manifest; the asset manifest names each file asset's source (a directory zipped at publish, or a
 * file) and its destination in the bootstrap bucket. No asset name is hard-coded, so any packaging of the
 * Lambda code (bundled at synth or prebuilt) deploys the same way.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileAsset {
  readonly id: string;
  /** Absolute path of the asset in the assembly: a directory (packaging `zip`) or a file. */
  readonly sourcePath: string;
  readonly packaging: 'zip' | 'file';
  /** With `${AWS::AccountId}` and `${AWS::Region}` placeholders, as in the manifest. */
  readonly bucketName: string;
  readonly objectKey: string;
}

export interface StackArtifact {
  readonly stackName: string;
  readonly templatePath: string;
  readonly template: CfnTemplate;
  /** `aws://account/region` — `unknown-account`/`unknown-region` for an environment-agnostic stack. */
  readonly environment: string;
  readonly assets: readonly FileAsset[];
  /** SSM parameter that holds the bootstrap stack's version (the template's BootstrapVersion default). */
  readonly bootstrapVersionParameter?: string;
}

export interface CfnResource {
  Type: string;
  Properties?: any;
  DependsOn?: string | string[];
  [key: string]: unknown;
}

export interface CfnTemplate {
  Parameters?: Record<string, { Type: string; Default?: string; [key: string]: unknown }>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; [key: string]: unknown }>;
  [key: string]: unknown;
}

/** `cdk synth` of the app in `appDir` (its cdk.json) into `outdir`; returns the outdir. */
export function synth(appDir: string, outdir: string): string {
  execFileSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
    cwd: appDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return outdir;
}

interface Manifest {
  artifacts: Record<string, { type: string; environment?: string; properties?: any; dependencies?: string[] }>;
}

/** Every CloudFormation stack of the assembly in `outdir`, with its file assets. */
export function readStacks(outdir: string): StackArtifact[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as Manifest;
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const templatePath = path.join(outdir, artifact.properties.templateFile);
    const assets: FileAsset[] = [];
    let bootstrapVersionParameter: string | undefined;
    for (const dep of artifact.dependencies ?? []) {
      const a = manifest.artifacts[dep];
      if (a?.type !== 'cdk:asset-manifest') continue;
      bootstrapVersionParameter = a.properties.bootstrapStackVersionSsmParameter;
      const assetManifest = JSON.parse(fs.readFileSync(path.join(outdir, a.properties.file), 'utf8'));
      for (const [assetId, entry] of Object.entries<any>(assetManifest.files ?? {})) {
        for (const d of Object.values<any>(entry.destinations)) {
          assets.push({
            id: assetId,
            sourcePath: path.join(outdir, entry.source.path),
            packaging: entry.source.packaging === 'zip' ? 'zip' : 'file',
            bucketName: d.bucketName,
            objectKey: d.objectKey,
          });
        }
      }
    }
    stacks.push({
      stackName: artifact.properties.stackName ?? id,
      templatePath,
      template: JSON.parse(fs.readFileSync(templatePath, 'utf8')),
      environment: artifact.environment ?? 'aws://unknown-account/unknown-region',
      assets,
      bootstrapVersionParameter,
    });
  }
  return stacks;
}

/** The asset a resource's S3 code location (`{ S3Bucket, S3Key }`) points at, by its object key. */
export function assetForKey(stack: StackArtifact, s3Key: unknown): FileAsset {
  const found = stack.assets.find((a) => a.objectKey === s3Key);
  if (!found) throw new Error(`no asset of ${stack.stackName} has the object key ${JSON.stringify(s3Key)}`);
  return found;
}
