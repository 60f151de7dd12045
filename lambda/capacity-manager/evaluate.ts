/**
 * One capacity evaluation: live queue attributes + the group's state → decideCapacity → SetDesiredCapacity.
 * SDK clients are injected, so tests run it against local-aws-sqs and a mocked Auto Scaling client.
 *
 * The busy history is carried in memory from one evaluation to the next (the caller's HistoryMemory, kept
 * at module scope by the handler), and the group tag is written only when planBusyHistoryWrite says so:
 * on a material change, at most once a minute. A cold start decides from the tag.
 *
 * The boot time the policy uses is learned (boot-time.ts): read from CloudWatch in parallel with the queues and
 * the group, at most once per LEARNED_BOOT_REFRESH_SECONDS per container, and never in the way of scaling.
 */
import {
  AutoScalingClient,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  Instance,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { withBootSeconds } from '../../lib/compute/learned-boot';
import {
  BUSY_HISTORY_TAG,
  BusyHistoryCarry,
  busyHistoryInput,
  CapacityDecision,
  decideCapacity,
  decodeBusyHistory,
  FleetState,
  planBusyHistoryWrite,
  PriorityBacklog,
  QueueState,
  ResolvedScalingPolicy,
} from '../../lib/compute/scaling-policy';
import { bootTimeAt, BootTimeMemory, BootTimeReading } from './boot-time';

/** What the construct puts in `AI_BURST_SCALING_POLICY`: the resolved policy plus the loop timing. */
export interface ManagerPolicyConfig extends ResolvedScalingPolicy {
  /** Seconds between evaluations inside one scheduled invocation. */
  readonly evaluationIntervalSeconds: number;
  /** Seconds a scheduled invocation keeps evaluating (it ends before the next minute's run). */
  readonly loopSeconds: number;
  /**
   * The idle window was not set explicitly: it is the boot time, so it follows the learned one. False: the
   * boot time is used nowhere and CloudWatch is not read. @default false
   */
  readonly idleWindowFollowsBoot?: boolean;
}

export interface ManagerConfig {
  readonly workload: string;
  readonly autoScalingGroupName: string;
  /** priority → queue URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly policy: ManagerPolicyConfig;
  /** Namespace of the worker's ColdStartSeconds. */
  readonly metricNamespace: string;
}

export interface ManagerClients {
  readonly sqs: SQSClient;
  readonly autoscaling: AutoScalingClient;
  /** Reads the fleet's boot times (the function's region, where the fleet's workers publish). */
  readonly cloudwatch: CloudWatchClient;
}

export interface Evaluation {
  readonly decision: CapacityDecision;
  readonly queue: QueueState;
  readonly fleet: FleetState;
  /** True when SetDesiredCapacity was called. */
  readonly changed: boolean;
  /** Whether the busy-history tag was written, and why (or why not). */
  readonly history: { readonly written: boolean; readonly reason: string };
  /** The boot time decided with (the idle window follows it unless set explicitly), and where it came from. */
  readonly boot: BootTimeReading;
}

/**
 * What a warm container keeps between evaluations: the busy history and when the tag was last written, and
 * the fleet's last boot-time reading.
 */
export interface HistoryMemory {
  carry?: BusyHistoryCarry;
  boot?: BootTimeMemory;
}

/** Parse and check the policy JSON from the environment (fail at cold start, naming the field). */
export function parsePolicyConfig(raw: unknown): ManagerPolicyConfig {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  for (const field of [
    'targetBacklogPerInstance',
    'jobsPerInstance',
    'expectedBootSeconds',
    'idleWindowSeconds',
    'evaluationIntervalSeconds',
    'loopSeconds',
  ]) {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new Error(`scaling policy: ${field} must be a number ≥ 0 (got ${JSON.stringify(v)})`);
  }
  if (o.idleWindowFollowsBoot !== undefined && typeof o.idleWindowFollowsBoot !== 'boolean') {
    throw new Error(`scaling policy: idleWindowFollowsBoot must be true or false (got ${JSON.stringify(o.idleWindowFollowsBoot)})`);
  }
  return o as unknown as ManagerPolicyConfig;
}

function count(value: string | undefined): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** GetQueueAttributes of every priority queue (visible, in flight, delayed), in parallel. */
export async function readQueueState(sqs: SQSClient, queueUrls: Readonly<Record<string, string>>): Promise<QueueState> {
  const entries = Object.entries(queueUrls);
  const queues = await Promise.all(
    entries.map(async ([priority, url]): Promise<PriorityBacklog> => {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const a = out.Attributes ?? {};
      return {
        priority,
        visible: count(a.ApproximateNumberOfMessages),
        inFlight: count(a.ApproximateNumberOfMessagesNotVisible),
        delayed: count(a.ApproximateNumberOfMessagesDelayed),
      };
    }),
  );
  return { queues };
}

/**
 * An instance's capacity units: its `WeightedCapacity` in a weighted group, 1 otherwise (and when the field
 * is missing or unreadable).
 */
export function unitsOf(instance: Instance): number {
  return count(instance.WeightedCapacity) || 1;
}

/**
 * DescribeAutoScalingGroups → the fleet state, with the busy history read from the group's tag. Everything
 * is counted in the unit of the group's DesiredCapacity: weight units when its instance types have weights
 * (in service, pending and busy are the sums of the instances' WeightedCapacity), instances otherwise.
 */
export async function readFleetState(autoscaling: AutoScalingClient, name: string): Promise<{ fleet: FleetState; historyTag?: string }> {
  const out = await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const group = out.AutoScalingGroups?.[0];
  if (!group) throw new Error(`Auto Scaling group ${name} not found`);
  const instances: Instance[] = group.Instances ?? [];
  const state = (i: Instance) => i.LifecycleState ?? '';
  const historyTag = group.Tags?.find((t) => t.Key === BUSY_HISTORY_TAG)?.Value;
  const weighted = (group.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? []).some((o) => o.WeightedCapacity !== undefined);
  const units = (keep: (i: Instance) => boolean) => instances.reduce((sum, i) => (keep(i) ? sum + unitsOf(i) : sum), 0);
  return {
    historyTag,
    fleet: {
      desired: group.DesiredCapacity ?? 0,
      min: group.MinSize ?? 0,
      max: group.MaxSize ?? 0,
      inService: units((i) => state(i) === 'InService'),
      pending: units((i) => state(i).startsWith('Pending')),
      busy: units((i) => state(i) === 'InService' && i.ProtectedFromScaleIn === true),
      busyHistory: decodeBusyHistory(historyTag),
      ...(weighted ? { weighted } : {}),
    },
  };
}

/**
 * Read, decide, act. Sets the desired capacity only when it changes (HonorCooldown false: the policy is
 * the cooldown), and writes the busy-history tag only on a material change, at most once a minute.
 * @param memory carried between calls (omit it and every call is a cold start that decides from the tag)
 */
export async function evaluate(clients: ManagerClients, config: ManagerConfig, now: number, memory: HistoryMemory = {}): Promise<Evaluation> {
  const followsBoot = config.policy.idleWindowFollowsBoot === true;
  const bootSource = {
    cloudwatch: clients.cloudwatch,
    metricNamespace: config.metricNamespace,
    workload: config.workload,
    priorSeconds: config.policy.expectedBootSeconds,
  };
  const [queue, read, boot] = await Promise.all([
    readQueueState(clients.sqs, config.queueUrls),
    readFleetState(clients.autoscaling, config.autoScalingGroupName),
    bootTimeAt(bootSource, (memory.boot ??= {}), now, followsBoot),
  ]);
  const { historyTag } = read;
  const fleet: FleetState = { ...read.fleet, busyHistory: busyHistoryInput(memory.carry, historyTag) };
  const decision = decideCapacity(queue, fleet, withBootSeconds(config.policy, boot.bootSeconds, followsBoot), now);
  const plan = planBusyHistoryWrite(memory.carry, historyTag, decision.busyHistory, now);
  // Until the tag write succeeds, the next evaluation retries it (the history itself moves on).
  memory.carry = plan.carryIfWriteFails;
  const changed = decision.desired !== fleet.desired;
  if (changed) {
    await clients.autoscaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: config.autoScalingGroupName,
        DesiredCapacity: decision.desired,
        HonorCooldown: false,
      }),
    );
  }
  if (plan.write) {
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: config.autoScalingGroupName,
            ResourceType: 'auto-scaling-group',
            Key: BUSY_HISTORY_TAG,
            Value: plan.value,
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    memory.carry = plan.carry;
  }
  return { decision, queue, fleet, changed, history: { written: plan.write, reason: plan.reason }, boot };
}

export interface LoopOptions {
  /** Epoch ms after which no new evaluation starts. */
  readonly until: number;
  readonly intervalMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Evaluate now, then every `intervalMs` until `until`. A failed evaluation is reported and the loop goes
 * on (a throttled API call must not cost the rest of the minute); the count of failures is returned.
 */
export async function evaluateLoop(
  run: () => Promise<void>,
  onError: (error: unknown) => void,
  options: LoopOptions,
): Promise<{ evaluations: number; failures: number }> {
  let evaluations = 0;
  let failures = 0;
  for (;;) {
    const started = options.now();
    evaluations++;
    try {
      await run();
    } catch (error) {
      failures++;
      onError(error);
    }
    const next = started + options.intervalMs;
    if (next > options.until) break;
    await options.sleep(Math.max(0, next - options.now()));
  }
  return { evaluations, failures };
}
