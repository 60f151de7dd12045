import * as fs from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, BundlingOutput, DockerImage } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/** File name of the bundled worker inside its asset and on the instance. */
export const WORKER_BUNDLE_FILE = 'index.js';
/** Node.js major the worker bundle targets; the user data installs `nodejs<major>` from the AL2023 repos. */
export const WORKER_NODE_MAJOR = 22;

/**
 * Where the worker agent's entry is: `worker/index.ts` in a source checkout, the compiled
 * `dist/worker/index.js` in the published package. Resolved relative to this file.
 */
export function defaultWorkerEntry(): string {
  const base = path.join(__dirname, '..', '..', 'worker', 'index');
  for (const ext of ['.ts', '.js']) {
    if (fs.existsSync(base + ext)) return base + ext;
  }
  return base + '.ts';
}

/**
 * The worker agent as one S3 asset: a single JavaScript file bundled at synth with the local esbuild
 * (all dependencies, the AWS SDK included, since the AMI's Node.js has none). No Docker.
 */
export function workerAsset(scope: Construct, id: string, entry: string): s3assets.Asset {
  if (!fs.existsSync(entry)) {
    throw new Error(`GpuFleet: the worker agent's entry ${entry} does not exist; set workerEntry to the worker's index.ts/js`);
  }
  return new s3assets.Asset(scope, id, {
    path: path.dirname(entry),
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling always succeeds or throws.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine'),
      outputType: BundlingOutput.SINGLE_FILE,
      local: {
        tryBundle(outputDir: string): boolean {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const esbuild = require('esbuild') as typeof import('esbuild');
          esbuild.buildSync({
            entryPoints: [entry],
            outfile: path.join(outputDir, WORKER_BUNDLE_FILE),
            bundle: true,
            platform: 'node',
            target: `node${WORKER_NODE_MAJOR}`,
            format: 'cjs',
            minify: true,
            keepNames: true,
            legalComments: 'none',
            logLevel: 'error',
          });
          return true;
        },
      },
    },
  });
}
