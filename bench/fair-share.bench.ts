/**
 * Fair share inside a workload: one agent's 10,000-job batch and another agent's single jobs (one a minute for
 * an hour) on one queue, 8 workers, 20 s per job; the small agent's waits with and without SQS fair queues.
 */
import { simulateTwoAgents } from '../tools/cost/simulator/fair-share';

export default async function fairShareBench(): Promise<string> {
  const rows = [false, true].map((fair) => ({ fair, r: simulateTwoAgents({ fair }) }));
  const fmt = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${s} s`);
  return [
    '## Fair share (two agents, one queue)',
    '',
    'Command: `npm run bench -- fair`. Batch agent: 10,000 jobs at t = 0; small agent: 60 jobs, one a minute; 8 workers, 20 s a job.',
    '',
    '| queue | small agent p95 wait | small agent max wait | batch p95 wait | last job done |',
    '|---|---|---|---|---|',
    ...rows.map(
      ({ fair, r }) =>
        `| ${fair ? 'fair (MessageGroupId = agent)' : 'standard, no group id'} | ${fmt(r.smallP95WaitSeconds)} | ` +
        `${fmt(r.smallMaxWaitSeconds)} | ${fmt(r.batchP95WaitSeconds)} | ${fmt(r.makespanSeconds)} |`,
    ),
    '',
  ].join('\n');
}
