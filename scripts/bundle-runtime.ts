/**
 * Bundles the run-time code once, when the package is built: each Lambda (lambda/<name>/index.ts) and the
 * worker agent (worker/index.ts) become assets/<name>/index.js + index.js.map inside the construct package.
 * The constructs load them with Code.fromAsset / s3_assets.Asset, so a consumer's synth needs no esbuild,
 * Docker or lock file. Output is byte-for-byte reproducible (paths relative to the repo, no timestamps), so
 * the content-based asset hashes change only when the run-time code does.
 *
 * Usage: `tsx scripts/bundle-runtime.ts [--if-stale] [outDir]` (default: assets/). --if-stale skips the build
 * when every bundle is newer than every source it may contain (lambda/, runtime/, worker/, lib/, the lock file): the
 * jest setup and the example app's `cdk synth` use it, so they never run stale run-time code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync, BuildOptions } from 'esbuild';
import { WORKER_NODE_MAJOR } from '../lib/compute/worker-bundle';

const ROOT = path.resolve(__dirname, '..');

export interface RuntimeBundle {
  /** Folder under assets/, and the name the constructs load it by. */
  readonly name: string;
  /** Entry, relative to the repo root. */
  readonly entry: string;
  readonly target: string;
  /** Packages left to the runtime (the Lambda Node.js runtime ships the AWS SDK v3). */
  readonly external: string[];
  readonly keepNames?: boolean;
}

/** Lambdas whose code imports the AWS SDK it was tested with: they bundle it instead of using the runtime's copy. */
const BUNDLES_SDK = new Set(['submit', 'status']);

/** Every Lambda under lambda/ (a folder with an index.ts) and the worker; the options are the ones the constructs used at synth before. */
export function runtimeBundles(): RuntimeBundle[] {
  const lambdas = fs
    .readdirSync(path.join(ROOT, 'lambda'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(ROOT, 'lambda', d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
  return [
    ...lambdas.map((name) => ({
      name,
      entry: `lambda/${name}/index.ts`,
      target: 'node24',
      external: BUNDLES_SDK.has(name) ? [] : ['@aws-sdk/*'],
    })),
    // The AMI's Node.js has no packages: everything, the SDK included, goes into the one file.
    { name: 'worker', entry: 'worker/index.ts', target: `node${WORKER_NODE_MAJOR}`, external: [], keepNames: true },
  ];
}

/** esbuild options of one bundle, as if written to assets/<name>/ (source map paths are relative to that). */
export function bundleOptions(b: RuntimeBundle): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [b.entry],
    outfile: path.join(ROOT, 'assets', b.name, 'index.js'),
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: b.target,
    external: b.external,
    minify: true,
    keepNames: b.keepNames ?? false,
    // A linked map without the sources' text: small, and it changes only when the mapped code does.
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'error',
  };
}

export interface BundleResult {
  readonly name: string;
  /** Files esbuild read, relative to the repo root. */
  readonly inputs: string[];
}

/**
 * Writes every bundle to outDir/<name>/ (each folder replaced whole) and says what went into each. The bytes
 * do not depend on outDir or on where the repo is checked out.
 */
export function bundleRuntime(outDir: string = path.join(ROOT, 'assets')): BundleResult[] {
  return runtimeBundles().map((b) => {
    const dir = path.join(outDir, b.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const { metafile, outputFiles } = buildSync(bundleOptions(b));
    for (const f of outputFiles!) fs.writeFileSync(path.join(dir, path.basename(f.path)), f.contents);
    return { name: b.name, inputs: Object.keys(metafile!.inputs) };
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !/\.(ts|js|json)$/.test(e.name) || e.name.endsWith('.d.ts')) continue;
    const parent = e.parentPath ?? (e as unknown as { path: string }).path;
    newest = Math.max(newest, fs.statSync(path.join(parent, e.name)).mtimeMs);
  }
  return newest;
}

/** True when a bundle is missing or older than a source file it may have been built from. */
export function bundlesStale(outDir: string = path.join(ROOT, 'assets')): boolean {
  const built = runtimeBundles().map((b) => path.join(outDir, b.name, 'index.js'));
  if (!built.every((f) => fs.existsSync(f))) return true;
  const oldest = Math.min(...built.map((f) => fs.statSync(f).mtimeMs));
  const sources = Math.max(
    ...['lambda', 'runtime', 'worker', 'lib'].map((d) => newestMtime(path.join(ROOT, d))),
    fs.statSync(path.join(ROOT, 'package-lock.json')).mtimeMs,
  );
  return sources > oldest;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const outDir = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(ROOT, 'assets'));
  if (ifStale && !bundlesStale(outDir)) process.exit(0);
  const t0 = Date.now();
  const names = bundleRuntime(outDir).map((b) => b.name);
  // stderr: stdout belongs to the caller (npm pack --json prints its report there).
  console.error(`bundled ${names.join(', ')} into ${path.relative(process.cwd(), outDir) || '.'} in ${Date.now() - t0} ms`);
}
