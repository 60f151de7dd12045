/** Validation of AiObservabilityProps (not exported from the package). */
import { Duration, Token } from 'aws-cdk-lib';
import { AGENT_NAME_PATTERN } from '../../contracts';
import { validateDuration, validatePattern, validateRange } from '../../common/validate';
import { AiObservabilityProps } from '../ai-observability-props';
import { validateNamespace } from './validate';

const NAME = 'AiObservability';

export function validateAiObservabilityProps(props: AiObservabilityProps, stackRegion: string): void {
  if (!Array.isArray(props.workloads) || props.workloads.length < 1 || props.workloads.length > 25) {
    throw new Error(
      `${NAME}: workloads must list 1 to 25 workloads (got ${props.workloads?.length ?? 0}); split larger platforms over several dashboards`,
    );
  }
  const names = props.workloads.map((w) => w.queue.workload);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${NAME}: workload ${JSON.stringify(dup)} is listed twice`);
  for (const w of props.workloads) {
    const at = `workloads[${JSON.stringify(w.queue.workload)}]`;
    if ((w.autoScalingGroup === undefined) === (w.autoScalingGroupName === undefined)) {
      throw new Error(`${NAME}: ${at} needs exactly one of autoScalingGroup and autoScalingGroupName`);
    }
    validateDuration(NAME, `${at}.oldestJobAgeSlo`, w.oldestJobAgeSlo, Duration.minutes(1), Duration.days(1));
    validateDuration(NAME, `${at}.idleFleetAlarmAfter`, w.idleFleetAlarmAfter, Duration.minutes(5), Duration.days(1));
    validateRange(NAME, `${at}.failureRatioThreshold`, w.failureRatioThreshold, 0.01, 1);
    validateRange(NAME, `${at}.dailyBudgetUsd`, w.dailyBudgetUsd, 0.01, 10_000_000, ' USD');
    if (w.metricsRegion !== undefined && !Token.isUnresolved(w.metricsRegion)) {
      validatePattern(NAME, `${at}.metricsRegion`, w.metricsRegion, /^[a-z]{2}(-[a-z]+)+-\d+$/, 'use a region name such as us-west-2');
    }
    if (w.agents !== undefined) {
      if (w.agents.length > 10)
        throw new Error(`${NAME}: ${at}.agents lists at most 10 agents (got ${w.agents.length}); the top agents come from SEARCH anyway`);
      for (const a of w.agents)
        validatePattern(
          NAME,
          `${at}.agents`,
          a,
          AGENT_NAME_PATTERN,
          'use letters, digits, . _ -, starting with a letter or digit, up to 64 characters',
        );
      const dupAgent = w.agents.find((a, i) => w.agents!.indexOf(a) !== i);
      if (dupAgent) throw new Error(`${NAME}: ${at}.agents lists ${JSON.stringify(dupAgent)} twice`);
    }
  }
  validateRange(NAME, 'dailyBudgetUsd', props.dailyBudgetUsd, 0.01, 10_000_000, ' USD');
  // Workloads whose fleet side publishes in this region: the ones a platform-wide alarm and the cost reporter cover.
  const here = props.workloads.filter((w) => w.metricsRegion === undefined || w.metricsRegion === stackRegion).map((w) => w.queue.workload);
  if (props.dailyBudgetUsd !== undefined && here.length > 10) {
    throw new Error(
      `${NAME}: dailyBudgetUsd covers at most 10 workloads (an alarm reads at most 10 metrics; got ` +
        `${here.length}); set dailyBudgetUsd per workload instead`,
    );
  }
  if (props.dailyBudgetUsd !== undefined && here.length === 0) {
    throw new Error(
      `${NAME}: dailyBudgetUsd covers the workloads whose metrics are in this stack's region (${stackRegion}), and every ` +
        'workload has another metricsRegion (an alarm reads one region); set dailyBudgetUsd per workload on its FleetAlarms instead',
    );
  }
  if (props.alarmTopic && props.createAlarmTopic) throw new Error(`${NAME}: give alarmTopic or createAlarmTopic, not both`);
  if (props.alarmTopicKey && !props.createAlarmTopic) throw new Error(`${NAME}: alarmTopicKey is only used with createAlarmTopic: true`);
  if (props.dashboardName !== undefined) {
    validatePattern(NAME, 'dashboardName', props.dashboardName, /^[A-Za-z0-9_-]{1,255}$/, 'use letters, digits, - and _, up to 255 characters');
  }
  validateNamespace(NAME, props.metricNamespace);
  if (props.costReporter) {
    if (props.metricNamespace !== undefined && props.metricNamespace !== props.costReporter.metricNamespace) {
      throw new Error(
        `${NAME}: metricNamespace ${JSON.stringify(props.metricNamespace)} differs from the cost reporter's ` +
          `${JSON.stringify(props.costReporter.metricNamespace)}; the dashboard would read spend where none is published`,
      );
    }
    const missing = here.filter((n) => !props.costReporter!.workloads.includes(n));
    if (missing.length > 0) {
      throw new Error(`${NAME}: the cost reporter does not cover ${missing.map((x) => JSON.stringify(x)).join(', ')}; add them to its workloads`);
    }
  }
}
