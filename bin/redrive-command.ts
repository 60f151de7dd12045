/**
 * `ai-burst redrive`: send parked jobs back to their priority queues after a fix, by invoking a
 * workload's redrive Lambda (`RetryHandler.redriveFunction`) with the operator's credentials, which need
 * lambda:InvokeFunction on it (`RetryHandler.grantRedrive`).
 */
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { JOB_ID_PATTERN } from '../lib/contracts';
import { InputError } from '../lib/cost/errors';

export const REDRIVE_USAGE = `ai-burst redrive --function-name NAME [--job-ids id,id,…] [--max-jobs N] [--region R]
      --function-name NAME   the workload's redrive Lambda (RetryHandler.redriveFunction)
      --job-ids a,b,…        only these parked jobs (default: every parked job)
      --max-jobs N           at most N jobs this run (1–10000; default: the function's limit)
      --region R             AWS region of the function (default: the SDK's)
  Prints the report { redriven, stale, kept, errors, more }; run again while "more" is true.
`;

export async function redriveCommand(argv: string[], lambda?: LambdaClient, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        'function-name': { type: 'string' }, 'job-ids': { type: 'string' }, 'max-jobs': { type: 'string' },
        region: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  if (values.help) {
    out.write(REDRIVE_USAGE);
    return 0;
  }
  const functionName = values['function-name'];
  if (!functionName) throw new InputError('--function-name: required (the RetryHandler\'s redrive function)');
  const jobIds = values['job-ids']?.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = jobIds?.find((id) => !JOB_ID_PATTERN.test(id));
  if (bad) throw new InputError(`--job-ids: ${JSON.stringify(bad)} is not a job id (<workload>.<uuid>)`);
  let maxJobs: number | undefined;
  if (values['max-jobs'] !== undefined) {
    maxJobs = Number(values['max-jobs']);
    if (!Number.isInteger(maxJobs) || maxJobs < 1 || maxJobs > 10000) {
      throw new InputError(`--max-jobs: must be an integer from 1 to 10000 (got ${JSON.stringify(values['max-jobs'])})`);
    }
  }
  const client = lambda ?? new LambdaClient(values.region ? { region: values.region } : {});
  const r = await client.send(new InvokeCommand({
    FunctionName: functionName,
    InvocationType: 'RequestResponse',
    Payload: Buffer.from(JSON.stringify({ ...(jobIds ? { jobIds } : {}), ...(maxJobs ? { maxJobs } : {}) })),
  }));
  const body = r.Payload ? Buffer.from(r.Payload).toString('utf8') : '';
  if (r.FunctionError) {
    process.stderr.write(`ai-burst: redrive failed: ${body.slice(0, 500)}\n`);
    return 1;
  }
  out.write(`${body}\n`);
  return 0;
}
