import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Folder of a prebuilt run-time bundle (`assets/<name>/index.js`, written by `npm run build`), resolved from
 * this file: the same path in a source checkout (lib/common) and in the published package (dist/lib/common
 * or the jsii output next to the sources).
 */
export function runtimeAssetDir(name: string): string {
  for (const up of [
    ['..', '..'],
    ['..', '..', '..'],
  ]) {
    const dir = path.join(__dirname, ...up, 'assets', name);
    if (fs.existsSync(path.join(dir, 'index.js'))) return dir;
  }
  throw new Error(`cdk-ai-burst: the prebuilt bundle assets/${name}/index.js is missing; run \`npm run build\` (the package is incomplete)`);
}

/**
 * A Lambda's prebuilt code: its bundle folder as a directory asset, hashed by content (so the hash moves only
 * when the bundle does). The source map stays in the package for reading stack traces; it is not uploaded.
 * The handler is `index.handler`.
 */
export function handlerCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(runtimeAssetDir(name), { exclude: ['*.map'] });
}

/** The handler name every prebuilt Lambda bundle exports. */
export const HANDLER = 'index.handler';
