/**
 * Fair share inside a workload, on the simulator's SQS model: a two-agent trace (one agent drops a large
 * batch at t = 0, another submits single jobs at a steady pace) served by a fixed pool of workers, with and
 * without SQS fair queues (MessageGroupId = agent). Returns each agent's queue waits.
 */
import { percentile } from './stats';
import { Message, SqsModel } from './sqs';

export interface TwoAgentTraceOptions {
  /** Jobs the batch agent submits at t = 0. @default 10000 */
  readonly batchJobs?: number;
  /** Single jobs of the small agent, one every `smallEverySeconds` from t = 1. @default 60 */
  readonly smallJobs?: number;
  /** @default 60 */
  readonly smallEverySeconds?: number;
  /** Busy workers (the fleet at its max). @default 8 */
  readonly workers?: number;
  /** Run time of every job. @default 20 */
  readonly serviceSeconds?: number;
  /** Model the queue as an SQS fair queue (groups = agents). */
  readonly fair: boolean;
}

export interface TwoAgentResult {
  /** p95 of the small agent's waits (submit → receive), seconds. */
  readonly smallP95WaitSeconds: number;
  readonly smallMaxWaitSeconds: number;
  readonly batchP95WaitSeconds: number;
  /** When the last job finished, seconds (fairness reorders work; it does not add any). */
  readonly makespanSeconds: number;
}

export function simulateTwoAgents(o: TwoAgentTraceOptions): TwoAgentResult {
  const batchJobs = o.batchJobs ?? 10000;
  const smallJobs = o.smallJobs ?? 60;
  const every = o.smallEverySeconds ?? 60;
  const workers = o.workers ?? 8;
  const service = o.serviceSeconds ?? 20;
  // Jobs 0..batchJobs-1 are the batch agent's; the rest the small agent's.
  const submittedAt = (job: number) => (job < batchJobs ? 0 : 1 + (job - batchJobs) * every);
  const agentOf = (m: Message) => (m.job < batchJobs ? 'batch' : 'small');
  const sqs = new SqsModel(['normal'], 1000, () => undefined, o.fair ? { groupOf: agentOf } : {});
  const arrivals = [...Array.from({ length: batchJobs }, (_, j) => j), ...Array.from({ length: smallJobs }, (_, i) => batchJobs + i)];
  let next = 0;
  const free = Array.from({ length: workers }, () => 0);
  const waits = { batch: [] as number[], small: [] as number[] };
  let makespan = 0;
  let done = 0;
  while (done < arrivals.length) {
    // The earliest free worker polls at max(its free time, the next arrival if the queue is empty).
    free.sort((a, b) => a - b);
    let now = free[0];
    while (next < arrivals.length && submittedAt(arrivals[next]) <= now) sqs.send('normal', arrivals[next], submittedAt(arrivals[next++]));
    let m = sqs.receive(now);
    if (!m) {
      now = submittedAt(arrivals[next]);
      while (next < arrivals.length && submittedAt(arrivals[next]) <= now) sqs.send('normal', arrivals[next], submittedAt(arrivals[next++]));
      m = sqs.receive(now)!;
    }
    waits[agentOf(m)].push(now - submittedAt(m.job));
    sqs.delete(m, now + service);
    free[0] = now + service;
    makespan = Math.max(makespan, free[0]);
    done++;
  }
  return {
    smallP95WaitSeconds: percentile(waits.small, 95) ?? 0,
    smallMaxWaitSeconds: Math.max(0, ...waits.small),
    batchP95WaitSeconds: percentile(waits.batch, 95) ?? 0,
    makespanSeconds: makespan,
  };
}
