/**
 * Builds cdk-ai-burst-tools: the library entry (index.ts) and the CLI (bin/ai-burst.ts) as one CommonJS
 * file each, with source maps. The pure modules they share with the construct package (contracts, scaling
 * policy, price snapshot) are bundled in, so the tools need neither aws-cdk-lib nor the construct package;
 * the AWS SDK stays a dependency. Type declarations come from `tsc -p tools/tsconfig.json`.
 */
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const TOOLS = __dirname;
for (const [entry, out] of [
  ['index.ts', 'dist/index.js'],
  ['bin/ai-burst.ts', 'dist/bin/ai-burst.js'],
]) {
  buildSync({
    absWorkingDir: TOOLS,
    entryPoints: [path.join(TOOLS, entry)],
    outfile: path.join(TOOLS, out),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['@aws-sdk/*'],
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'error',
  });
}
