/**
 * `npm run bench`: runs every `bench/*.bench.ts` file in name order and prints their Markdown sections.
 *
 * Each bench file default-exports `async () => string` (a Markdown section with a table; ratios against a
 * baseline measured in the same run; bounded in time; 127.0.0.1 only). Pass name fragments to run a
 * subset: `npm run bench -- cost`. A failing bench prints its error in its section and makes the exit
 * code 1, but does not stop the others.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

type Bench = () => Promise<string>;

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
  const started = performance.now();
  let failed = 0;
  console.log(`# Benchmarks\n\nnode ${process.version}, ${new Date().toISOString()}\n`);
  for (const file of files) {
    const t0 = performance.now();
    let section: string;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(join(__dirname, file)) as { default?: Bench };
      if (typeof mod.default !== 'function') throw new Error(`${file} does not default-export a function`);
      section = await mod.default();
    } catch (err) {
      failed++;
      section = `## ${file}\n\nFAILED: ${(err as Error).stack ?? String(err)}\n`;
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`${section.trimEnd()}\n\n_${file}: ${seconds} s_\n`);
  }
  console.log(`_total: ${((performance.now() - started) / 1000).toFixed(1)} s, ${files.length} file(s)_`);
  if (failed > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
