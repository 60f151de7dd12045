import * as fs from 'node:fs';
import * as path from 'node:path';

/** The README tells a new user the truth: every prop of a construct is in its table, and nothing points at a tracker they cannot see. */
const ROOT = path.join(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Names of the top-level `readonly` members of `export interface <name>` in a source file. */
function propsOf(file: string, name: string): string[] {
  const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const start = source.indexOf(`export interface ${name} `);
  if (start < 0) throw new Error(`${name} not found in ${file}`);
  const body = source.slice(start, source.indexOf('\n}', start));
  return [...body.matchAll(/^ {2}readonly (\w+)\??:/gm)].map((m) => m[1]);
}

/** Backticked names in the first column of the `index`-th props table after `heading`. */
function tableNames(heading: string, index = 0): Set<string> {
  const from = README.indexOf(heading);
  if (from < 0) throw new Error(`README has no ${heading}`);
  const section = README.slice(from, README.indexOf('\n### ', from + heading.length));
  const tables: string[][] = [];
  let run: string[] = [];
  for (const line of [...section.split('\n'), '']) {
    if (line.startsWith('|')) run.push(line);
    else if (run.length > 0) {
      if (/^\| [^|]*(Prop|option|Option) /.test(run[0])) tables.push(run);
      run = [];
    }
  }
  const table = tables[index];
  if (!table) throw new Error(`README ${heading} has no props table ${index}`);
  const firstCells = table.slice(2).map((row) => row.split('|')[1] ?? '');
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((m) => m[1])));
}

describe('README', () => {
  test('refers to no issue numbers (a user of the package cannot see the tracker)', () => {
    const hits = README.split('\n').filter((line) => /#\d|\bissues?[- ]\d/i.test(line));
    expect(hits).toEqual([]);
  });

  test.each<[string, string, string, number]>([
    ['lib/queue/job-queue.ts', 'JobQueueProps', '### JobQueue', 0],
    ['lib/store/job-store.ts', 'JobStoreProps', '### JobStore', 0],
    ['lib/compute/gpu-fleet.ts', 'GpuFleetProps', '### GpuFleet', 0],
    ['lib/compute/capacity-manager.ts', 'ScalingPolicyOptions', '### CapacityManager', 0],
    ['lib/orchestration/interruption-drainer.ts', 'InterruptionDrainerProps', '### InterruptionDrainer', 0],
    ['lib/orchestration/retry-handler.ts', 'RetryHandlerProps', '### RetryHandler', 0],
    ['lib/api/job-api.ts', 'JobApiProps', '### JobApi', 0],
    ['lib/drill/interruption-drill.ts', 'InterruptionDrillProps', '### InterruptionDrill', 0],
    ['lib/platform.ts', 'AiBurstPlatformProps', '### AiBurstPlatform', 0],
    ['lib/platform.ts', 'AiBurstWorkloadOptions', '### AiBurstPlatform', 1],
  ])('%s: every prop of %s is in its README table', (file, name, heading, index) => {
    const documented = tableNames(heading, index);
    const props = propsOf(file, name);
    expect(props.length).toBeGreaterThan(3);
    expect(props.filter((p) => !documented.has(p))).toEqual([]);
  });
});
