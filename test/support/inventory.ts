/**
 * Readable inventories of synthesized templates, for snapshots that show drift a reviewer can read:
 * logical id → resource type per stack, and the observability surface (alarms, dashboard widgets) with
 * metric-math ids replaced by what they refer to, so renaming an id is not a change but reading another
 * metric is.
 */
import { Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';

/** Every stack under `scope` (nested stages included), in construct-tree order. */
export function stacksOf(scope: IConstruct): Stack[] {
  return scope.node.findAll().filter((c): c is Stack => Stack.isStack(c) && Stage.of(c) !== undefined);
}

/**
 * Logical id → CloudFormation type, sorted by logical id. An API Gateway deployment's id ends in a hash of
 * the API's configuration by design (a new deployment per change): that hash is masked.
 */
export function resourceInventory(template: Template): Record<string, string> {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  const shown = (id: string) => (resources[id].Type === 'AWS::ApiGateway::Deployment' ? id.replace(/[0-9a-f]{32}$/, '[CONFIG-HASH]') : id);
  return Object.fromEntries(
    Object.keys(resources)
      .sort()
      .map((id) => [shown(id), resources[id].Type]),
  );
}

/** A CloudFormation intrinsic as short text: `@Id`, `@Id.Attr`, else `@TOKEN`. */
function tokenText(x: unknown): string {
  const o = x as Record<string, unknown>;
  if (typeof o?.Ref === 'string') return `@${o.Ref}`;
  const att = o?.['Fn::GetAtt'] as string[] | undefined;
  if (Array.isArray(att)) return `@${att.join('.')}`;
  return '@TOKEN';
}

/** The dashboards' bodies, with intrinsics rendered by {@link tokenText}. */
export function dashboardBodiesWithRefs(template: Template): Array<{ widgets: any[] }> {
  return Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map((d) => {
    const body = d.Properties.DashboardBody;
    const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((x: unknown) => (typeof x === 'string' ? x : tokenText(x))).join('');
    return JSON.parse(text);
  });
}

/** Replace each metric-math id in `expression` by the text `byId` gives it. */
function substituteIds(expression: string, byId: (id: string) => string | undefined): string {
  return expression.replace(/\b[a-z][A-Za-z0-9_]*\b/g, (word) => byId(word) ?? word);
}

/** One dashboard metric array entry, as text: `Namespace/Name{dims} stat/period@region` or the expression. */
function widgetLines(metrics: any[], shown: (options: Record<string, any>) => boolean): string[] {
  const entries = metrics.map((entry: any[]) => {
    const options = (typeof entry[entry.length - 1] === 'object' ? entry[entry.length - 1] : {}) as Record<string, any>;
    const parts = typeof entry[entry.length - 1] === 'object' ? entry.slice(0, -1) : entry;
    return { options, parts: parts as string[] };
  });
  const byId = new Map<string, (typeof entries)[number]>();
  for (const e of entries) if (e.options.id) byId.set(e.options.id, e);
  const render = (e: (typeof entries)[number], depth = 0): string => {
    const where = [e.options.region ? `@${e.options.region}` : ''].join('');
    if (e.options.expression) {
      const expr = substituteIds(e.options.expression, (id) => {
        const ref = byId.get(id);
        return ref && depth < 5 ? `⟨${render(ref, depth + 1)}⟩` : undefined;
      });
      return `${expr}${e.options.period ? ` /${e.options.period}` : ''}${where}`;
    }
    const [ns, name, ...dims] = e.parts;
    const pairs: string[] = [];
    for (let i = 0; i < dims.length; i += 2) pairs.push(`${dims[i]}=${dims[i + 1]}`);
    return `${ns}/${name}{${pairs.join(',')}} ${e.options.stat ?? ''}/${e.options.period ?? ''}${where}`;
  };
  return entries.filter((e) => e.options.visible !== false && shown(e.options)).map((e) => `${e.options.label ?? ''} = ${render(e)}`);
}

/** Each widget of each dashboard: `type title`, its lines (left, then right) and its annotations. */
export function widgetInventory(template: Template): Array<Record<string, unknown>> {
  return dashboardBodiesWithRefs(template).flatMap((body) =>
    body.widgets.map((w: any) => {
      const { metrics, alarms, title, ...rest } = w.properties;
      return {
        widget: `${w.type} ${w.width}x${w.height} at ${w.x},${w.y} ${title ?? (rest.markdown as string | undefined)?.split('\n')[0] ?? ''}`,
        ...(metrics ? { metrics: widgetLines(metrics, (o) => o.yAxis !== 'right') } : {}),
        ...(metrics?.some((m: any[]) => (m[m.length - 1] as any)?.yAxis === 'right')
          ? { right: widgetLines(metrics, (o) => o.yAxis === 'right') }
          : {}),
        ...(alarms ? { alarms: (alarms as string[]).map((a) => String(a).replace(/^arn:.*:alarm:/, '')) } : {}),
        ...rest,
      };
    }),
  );
}

/** An alarm's metric as text (math ids replaced by what they read). */
function alarmMetric(props: any): string {
  if (!props.Metrics) {
    const dims = (props.Dimensions ?? []).map((d: any) => `${d.Name}=${typeof d.Value === 'string' ? d.Value : tokenText(d.Value)}`);
    return `${props.Namespace}/${props.MetricName}{${dims.join(',')}} ${props.Statistic ?? props.ExtendedStatistic}/${props.Period}`;
  }
  const byId = new Map<string, any>(props.Metrics.map((m: any) => [m.Id, m]));
  const render = (m: any): string => {
    if (m.Expression) return substituteIds(m.Expression, (id) => (byId.has(id) ? `⟨${render(byId.get(id))}⟩` : undefined));
    const s = m.MetricStat;
    const dims = (s.Metric.Dimensions ?? []).map((d: any) => `${d.Name}=${typeof d.Value === 'string' ? d.Value : tokenText(d.Value)}`);
    return `${s.Metric.Namespace}/${s.Metric.MetricName}{${dims.join(',')}} ${s.Stat}/${s.Period}`;
  };
  return render(props.Metrics.find((m: any) => m.ReturnData !== false));
}

/** Alarm logical id → what it reads and when it fires. */
export function alarmInventory(template: Template): Record<string, Record<string, unknown>> {
  const alarms = template.findResources('AWS::CloudWatch::Alarm');
  return Object.fromEntries(
    Object.keys(alarms)
      .sort()
      .map((id) => {
        const p = alarms[id].Properties;
        return [
          id,
          {
            metric: alarmMetric(p),
            when:
              `${p.ComparisonOperator} ${p.Threshold} in ${p.DatapointsToAlarm ?? p.EvaluationPeriods}/${p.EvaluationPeriods}, ` +
              `missing ${p.TreatMissingData}`,
            actions: `alarm ${(p.AlarmActions ?? []).length}, ok ${(p.OKActions ?? []).length}`,
            description: p.AlarmDescription,
          },
        ];
      }),
  );
}
