import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Absolute path of a Lambda's entry, `lambda/<name>/index.ts` in a source checkout or the compiled
 * `dist/lambda/<name>/index.js` in the published package. Resolved relative to this file, so the same
 * construct code works in both; NodejsFunction bundles either with the local esbuild (no Docker).
 */
export function handlerEntry(name: string): string {
  const base = path.join(__dirname, '..', '..', 'lambda', name, 'index');
  for (const ext of ['.ts', '.js']) {
    if (fs.existsSync(base + ext)) return base + ext;
  }
  throw new Error(`cdk-ai-burst: handler code for ${name} not found at ${base}.ts or .js; is the package complete?`);
}
