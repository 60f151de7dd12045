/**
 * One fake model server per worker instance (as each GPU instance runs its own), all writing one ledger: which
 * job each call served (the payload carries `chaosJobId`), which instance took it, when it began and ended,
 * what the server was told to do (answer, 500, or hold past the job timeout) and how it ended. Every answered
 * call returns a unique text (outputOf), so a stored result names the call that produced it.
 */
import { FakeModelServer, ModelCall, startFakeModelServer } from '../../test/support/fake-model-server';
import { outputOf } from '../detectors';
import { CallEvidence, CallFault } from '../evidence';

/** What the server does with the `nth` call (0-based, over all instances) of a job. */
export type CallPlan = (jobId: string, nth: number) => { readonly fault: CallFault; readonly durationMs: number };

interface Entry {
  readonly id: string;
  readonly jobId?: string;
  readonly instanceId: string;
  readonly fault: CallFault;
  readonly durationMs: number;
  readonly call: ModelCall;
}

/** A wait that does not keep the process alive once everything else has closed (the run ends mid-call). */
function after(ms: number): Promise<void> {
  return new Promise((r) => {
    setTimeout(r, ms).unref();
  });
}

export class ModelLedger {
  private readonly entries: Entry[] = [];
  private readonly servers: FakeModelServer[] = [];
  private readonly perJob = new Map<string, number>();

  /** @param holdMs how long a `timeout` call is held (longer than the workers' job timeout: they abort it). */
  constructor(
    private readonly plan: CallPlan,
    private readonly holdMs: number,
  ) {}

  async serverFor(instanceId: string): Promise<FakeModelServer> {
    const server = await startFakeModelServer();
    server.script((call) => {
      const jobId = typeof call.body.chaosJobId === 'string' ? call.body.chaosJobId : undefined;
      const nth = jobId ? (this.perJob.get(jobId) ?? 0) : 0;
      if (jobId) this.perJob.set(jobId, nth + 1);
      const { fault, durationMs } = jobId ? this.plan(jobId, nth) : { fault: 'ok' as const, durationMs: 10 };
      const id = `c${this.entries.length + 1}`;
      this.entries.push({ id, jobId, instanceId, fault, durationMs, call });
      if (fault === 'error') return { status: 500, until: after(durationMs), errorMessage: 'chaos: scripted model error' };
      if (fault === 'timeout') return { until: after(this.holdMs) };
      return { until: after(durationMs), content: outputOf(id) };
    });
    this.servers.push(server);
    return server;
  }

  /** Model calls not yet ended on an instance (a kill chosen now is mid-job). */
  openOn(instanceId: string): number {
    return this.entries.filter((e) => e.instanceId === instanceId && e.call.endedAt === undefined).length;
  }

  /** Calls not yet ended, with the time their plan has left to run. */
  openCalls(now = Date.now()): { jobId?: string; instanceId: string; remainingMs: number }[] {
    return this.entries
      .filter((e) => e.call.endedAt === undefined)
      .map((e) => ({ jobId: e.jobId, instanceId: e.instanceId, remainingMs: e.call.startedAt + e.durationMs - now }));
  }

  evidence(): CallEvidence[] {
    return this.entries.map((e) => ({
      id: e.id,
      jobId: e.jobId,
      instanceId: e.instanceId,
      startedAt: e.call.startedAt,
      endedAt: e.call.endedAt,
      fault: e.fault,
      end: e.call.answered ? (e.fault === 'error' ? 'error' : 'answered') : e.call.aborted ? 'aborted' : 'open',
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}
