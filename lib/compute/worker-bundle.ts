import * as fs from 'node:fs';
import * as path from 'node:path';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { runtimeAssetDir } from '../common/handler';

/** File name of the bundled worker inside its asset and on the instance. */
export const WORKER_BUNDLE_FILE = 'index.js';
/** Node.js major the worker bundle targets; the user data installs `nodejs<major>` from the AL2023 repos. */
export const WORKER_NODE_MAJOR = 22;

/** The worker agent this package ships: `assets/worker/index.js`, bundled when the package was built. */
export function defaultWorkerEntry(): string {
  return path.join(runtimeAssetDir('worker'), WORKER_BUNDLE_FILE);
}

/**
 * The worker agent as one S3 file asset, uploaded as is (a single JavaScript file with every dependency,
 * the AWS SDK included, since the AMI's Node.js has none). Hashed by content; no bundling at synth.
 */
export function workerAsset(scope: Construct, id: string, entry: string): s3assets.Asset {
  if (!fs.existsSync(entry) || !fs.statSync(entry).isFile()) {
    throw new Error(`GpuFleet: the worker agent's entry ${entry} does not exist; set workerEntry to a bundled worker (one .js file)`);
  }
  return new s3assets.Asset(scope, id, { path: entry });
}
