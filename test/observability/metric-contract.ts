/**
 * The two sides of the metrics contract, read from the repo:
 * - consumers: every metric (namespace, name, dimension names) a synthesized dashboard or alarm reads,
 *   including the schemas of SEARCH expressions;
 * - producers: the contract constants the run-time code emits, found by parsing worker/ and lambda/ with
 *   the TypeScript compiler: `MetricNames.X` in a metric-emitting position (an argument of a call named like
 *   addMetric/putMetric/emit/publish/record/count, a `MetricName`/`name` property, a computed key) and
 *   `Dimensions.Y` in a dimension position (computed key, `Name` property, argument of a dimension or metric
 *   call). A producer is a Lambda folder or the worker, with every file it imports (relative imports).
 * `contractViolations` compares them; it is pure so a test can feed it a drifted name and see it fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import * as ts from 'typescript';
import { Dimensions, METRIC_DIMENSION_SETS, METRIC_NAMESPACE, MetricName, MetricNames } from '../../lib/contracts';
import { cloudWatchAgentConfig } from '../../lib/observability/cloudwatch-agent-config';

export interface ReadMetric {
  readonly namespace: string;
  readonly metricName: string;
  /** Dimension names, sorted. */
  readonly dimensions: readonly string[];
  /** Where it is read: widget title or alarm logical id. */
  readonly where: string;
}

export interface Producer {
  /** `worker` or `lambda/<name>`. */
  readonly component: string;
  readonly files: readonly string[];
  /** Contract metric names emitted, with the file that emits each. */
  readonly emits: ReadonlyMap<string, string>;
  readonly dimensions: ReadonlySet<string>;
  /** The producer emits through `METRIC_DIMENSION_SETS` (a helper that publishes every contract set). */
  readonly usesDimensionSets: boolean;
  /** The producer takes its namespace from the contract (METRIC_NAMESPACE, EnvNames.METRIC_NAMESPACE, metricNamespace). */
  readonly namespaceFromContract: boolean;
}

// ------------------------------------------------------------------ consumers

/** The dashboard bodies of a template, parsed (tokens become the string TOKEN). */
export function dashboardBodies(template: Template): Array<{ widgets: any[]; start?: string; periodOverride?: string }> {
  return Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map((d) => {
    const body = d.Properties.DashboardBody;
    const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((x: unknown) => (typeof x === 'string' ? x : 'TOKEN')).join('');
    return JSON.parse(text);
  });
}

const SEARCH_RE = /SEARCH\(\s*'\{([^}]*)\}([^']*)'/g;

/** Metrics named by the SEARCH expressions in a metric-math expression. */
export function searchedMetrics(expression: string, where: string): ReadMetric[] {
  const found: ReadMetric[] = [];
  for (const m of expression.matchAll(SEARCH_RE)) {
    const [namespace, ...dimensions] = m[1].split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
    const name = m[2].match(/MetricName="([^"]+)"/)?.[1];
    if (!name) throw new Error(`${where}: SEARCH without an exact MetricName="…": ${expression}`);
    found.push({ namespace, metricName: name, dimensions: [...dimensions].sort(), where });
  }
  return found;
}

/** Every metric the template's dashboards and alarms read. */
export function readMetrics(template: Template): ReadMetric[] {
  const read: ReadMetric[] = [];
  for (const body of dashboardBodies(template)) {
    for (const widget of body.widgets) {
      const where = `widget "${widget.properties?.title ?? widget.type}"`;
      for (const entry of widget.properties?.metrics ?? []) {
        const head = entry[0];
        if (typeof head === 'object') {
          read.push(...searchedMetrics(head.expression ?? '', where));
          continue;
        }
        const parts = entry.filter((x: unknown) => typeof x === 'string');
        const [namespace, metricName, ...dims] = parts;
        const dimensions = dims.filter((_: string, i: number) => i % 2 === 0).sort();
        read.push({ namespace, metricName, dimensions, where });
      }
    }
  }
  for (const [id, alarm] of Object.entries(template.findResources('AWS::CloudWatch::Alarm'))) {
    const p = alarm.Properties;
    const where = `alarm ${id}`;
    const stats = p.MetricName ? [p] : (p.Metrics ?? []).filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    for (const s of stats) {
      read.push({ namespace: s.Namespace, metricName: s.MetricName, dimensions: (s.Dimensions ?? []).map((d: any) => d.Name).sort(), where });
    }
    for (const m of p.Metrics ?? []) if (m.Expression) read.push(...searchedMetrics(m.Expression, where));
  }
  return read;
}

// ------------------------------------------------------------------ producers

const EMIT_CALL = /metric|emit|put|publish|record|count|gauge|observe|histogram|timing/i;
const DIMENSION_CALL = /dimension|metric|emit|put|publish|record/i;
const METRIC_PROPERTY = /^(MetricName|metricName|name|Name)$/;
const DIMENSION_PROPERTY = /^(Name|name|dimension|Dimension)$/;

function calleeName(call: ts.CallExpression | ts.NewExpression): string {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return '';
}

function propertyName(name: ts.PropertyName): string {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : '';
}

/** Calls and commands that read metrics (GetMetricData, ListMetrics, alarms): a name inside them is not emitted. */
const READ_CALL = /^(Get|List|Describe)|Alarm/;
/** Properties that wrap a metric being read (`MetricStat: { Metric: { MetricName } }`). */
const READ_PROPERTY = /^(Metric|MetricStat|metricStat)$/;

/**
 * Whether a `Contract.X` access sits where a metric (or dimension) is emitted: walking up through array and
 * object literals, it reaches a matching call argument, a matching property or a computed key, and passes
 * through no read (a GetMetricData/ListMetrics query, an alarm, a `MetricStat.Metric`).
 */
function inEmittingPosition(node: ts.Node, callRe: RegExp, propertyRe: RegExp): boolean {
  let cur: ts.Node = node;
  let parent = node.parent;
  let named = false;
  while (parent) {
    if (ts.isComputedPropertyName(parent)) {
      named = true;
      cur = parent.parent;
      parent = cur.parent;
      continue;
    }
    if (ts.isCallExpression(parent) || ts.isNewExpression(parent)) {
      const args: readonly ts.Node[] = parent.arguments ?? [];
      const callee = calleeName(parent);
      if (!args.includes(cur) || READ_CALL.test(callee)) return false;
      return named || callRe.test(callee);
    }
    if (ts.isPropertyAssignment(parent)) {
      const name = propertyName(parent.name);
      if (READ_PROPERTY.test(name)) return false;
      if (parent.initializer === cur && propertyRe.test(name)) named = true;
    } else if (!(
      ts.isArrayLiteralExpression(parent) ||
      ts.isObjectLiteralExpression(parent) ||
      ts.isParenthesizedExpression(parent) ||
      ts.isConditionalExpression(parent) ||
      ts.isAsExpression(parent) ||
      ts.isSpreadElement(parent)
    )) {
      return named;
    }
    cur = parent;
    parent = parent.parent;
  }
  return named;
}

interface FileFacts {
  readonly emits: Set<string>;
  readonly dimensions: Set<string>;
  readonly usesDimensionSets: boolean;
  readonly namespaceFromContract: boolean;
  readonly imports: string[];
}

function factsOf(file: string): FileFacts {
  const text = fs.readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const metricValues = MetricNames as Record<string, string>;
  const dimensionValues = Dimensions as Record<string, string>;
  const emits = new Set<string>();
  const dimensions = new Set<string>();
  const imports: string[] = [];
  let usesDimensionSets = false;
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const owner = node.expression.text;
      const key = node.name.text;
      if (owner === 'MetricNames' && metricValues[key] && inEmittingPosition(node, EMIT_CALL, METRIC_PROPERTY)) emits.add(metricValues[key]);
      if (owner === 'Dimensions' && dimensionValues[key] && inEmittingPosition(node, DIMENSION_CALL, DIMENSION_PROPERTY))
        dimensions.add(dimensionValues[key]);
    }
    if (ts.isIdentifier(node) && node.text === 'METRIC_DIMENSION_SETS' && !ts.isImportSpecifier(node.parent)) usesDimensionSets = true;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) imports.push(spec);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const namespaceFromContract = /\bEnvNames\.METRIC_NAMESPACE\b|\bMETRIC_NAMESPACE\b|\bmetricNamespace\b/.test(text);
  return { emits, dimensions, usesDimensionSets, namespaceFromContract, imports };
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return undefined;
}

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'test' ? [] : sourceFiles(p);
    return /\.ts$/.test(e.name) && !/\.(d|test)\.ts$/.test(e.name) ? [p] : [];
  });
}

/**
 * The producers under `repoRoot`: `worker/` (one producer) and each `lambda/<name>/` except `lambda/shared`
 * (shared code counts for the producers that import it). Files under worker/, lambda/ and runtime/ are followed.
 */
export function scanProducers(repoRoot: string): Producer[] {
  const roots: Array<{ component: string; dir: string }> = [];
  if (fs.existsSync(path.join(repoRoot, 'worker'))) roots.push({ component: 'worker', dir: path.join(repoRoot, 'worker') });
  const lambdaDir = path.join(repoRoot, 'lambda');
  if (fs.existsSync(lambdaDir)) {
    for (const e of fs.readdirSync(lambdaDir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'shared') roots.push({ component: `lambda/${e.name}`, dir: path.join(lambdaDir, e.name) });
    }
  }
  const within = (f: string) => ['worker', 'lambda', 'runtime'].some((d) => f.startsWith(path.join(repoRoot, d) + path.sep));
  const cache = new Map<string, FileFacts>();
  const facts = (f: string) => cache.get(f) ?? cache.set(f, factsOf(f)).get(f)!;

  return roots.map(({ component, dir }) => {
    const files = new Set<string>();
    const queue = sourceFiles(dir);
    while (queue.length > 0) {
      const f = queue.pop()!;
      if (files.has(f)) continue;
      files.add(f);
      for (const spec of facts(f).imports) {
        const target = resolveImport(f, spec);
        if (target && within(target)) queue.push(target);
      }
    }
    const emits = new Map<string, string>();
    const dimensions = new Set<string>();
    let usesDimensionSets = false;
    let namespaceFromContract = false;
    for (const f of files) {
      const x = facts(f);
      for (const name of x.emits) if (!emits.has(name)) emits.set(name, path.relative(repoRoot, f));
      x.dimensions.forEach((d) => dimensions.add(d));
      usesDimensionSets ||= x.usesDimensionSets;
      namespaceFromContract ||= x.namespaceFromContract;
    }
    return {
      component,
      files: [...files].map((f) => path.relative(repoRoot, f)).sort(),
      emits,
      dimensions,
      usesDimensionSets,
      namespaceFromContract,
    };
  });
}

// ------------------------------------------------------------------ the comparison

/** AWS publishes these; the library reads only what the resources it names emit. */
export const EXTERNAL_PRODUCERS: Readonly<Record<string, { names: readonly string[]; dimensionSets: readonly (readonly string[])[] }>> = {
  'AWS/SQS': {
    names: ['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateAgeOfOldestMessage'],
    dimensionSets: [['QueueName']],
  },
  // Only the group metrics GpuFleet enables (MetricsCollection).
  'AWS/AutoScaling': { names: ['GroupDesiredCapacity', 'GroupInServiceInstances'], dimensionSets: [['AutoScalingGroupName']] },
  'AWS/Lambda': { names: ['Errors'], dimensionSets: [['FunctionName']] },
};

/** What the CloudWatch agent publishes with the library's configuration (lib/observability/cloudwatch-agent-config.ts). */
export function agentProduces(): { names: string[]; dimensionSets: string[][] } {
  const config = cloudWatchAgentConfig({ workload: 'contract-test' });
  return {
    names: config.metrics.metrics_collected.nvidia_gpu.measurement.map((m) => `nvidia_smi_${m}`),
    dimensionSets: config.metrics.aggregation_dimensions.map((d) => [...d].sort()),
  };
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Why one read metric has no producer, or undefined when it has one. */
export function violation(read: ReadMetric, producers: readonly Producer[], namespace = METRIC_NAMESPACE): string | undefined {
  const label = `${read.where} reads ${read.namespace}/${read.metricName} {${read.dimensions.join(', ')}}`;
  const external = EXTERNAL_PRODUCERS[read.namespace];
  if (external) {
    if (!external.names.includes(read.metricName))
      return `${label}: ${read.namespace} publishes no such metric (known: ${external.names.join(', ')})`;
    if (!external.dimensionSets.some((d) => sameSet(d, read.dimensions)))
      return `${label}: ${read.namespace} publishes it with ${JSON.stringify(external.dimensionSets)}`;
    return undefined;
  }
  if (read.namespace === 'CWAgent') {
    const agent = agentProduces();
    if (!agent.names.includes(read.metricName)) return `${label}: the agent configuration collects ${agent.names.join(', ')}`;
    if (!agent.dimensionSets.some((d) => sameSet(d, read.dimensions)))
      return `${label}: the agent rolls up on ${JSON.stringify(agent.dimensionSets)}`;
    return undefined;
  }
  if (read.namespace !== namespace) return `${label}: no producer publishes to namespace ${read.namespace}`;
  const contractNames = Object.values(MetricNames) as string[];
  if (!contractNames.includes(read.metricName)) return `${label}: not a name in lib/contracts/metrics.ts MetricNames`;
  const sets = METRIC_DIMENSION_SETS[read.metricName as MetricName];
  if (!sets.some((s) => sameSet(s, read.dimensions))) {
    return `${label}: METRIC_DIMENSION_SETS publishes ${read.metricName} only with ${JSON.stringify(sets)}`;
  }
  const emitters = producers.filter((p) => p.emits.has(read.metricName));
  if (emitters.length === 0) return `${label}: no producer in worker/ or lambda/ emits MetricNames for ${read.metricName}`;
  const complete = emitters.filter((p) => p.namespaceFromContract && (p.usesDimensionSets || read.dimensions.every((d) => p.dimensions.has(d))));
  if (complete.length === 0) {
    return (
      `${label}: emitted by ${emitters.map((p) => p.component).join(', ')} but not with dimensions ` +
      `${read.dimensions.join(', ')} in the contract namespace`
    );
  }
  return undefined;
}

/** Every violation over all read metrics (deduplicated by metric, first reader named). */
export function contractViolations(read: readonly ReadMetric[], producers: readonly Producer[], namespace = METRIC_NAMESPACE): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of read) {
    const key = `${r.namespace}|${r.metricName}|${r.dimensions.join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const v = violation(r, producers, namespace);
    if (v) out.push(v);
  }
  return out;
}
