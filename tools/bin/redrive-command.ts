/**
 * `ai-burst redrive`: send parked jobs back to their priority queues after a fix, by invoking a
 * workload's redrive Lambda (`RetryHandler.redriveFunction`) with the operator's credentials, which need
 * lambda:InvokeFunction on it (`RetryHandler.grantRedrive`).
 */
import { InvokeCommand, InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { awsSetupProblem } from './aws-errors';
import { JOB_ID_PATTERN } from '../../lib/contracts';
import { flagList, flagString, parseFlags } from '../cost/cli-args';
import { InputError, requireInteger } from '../cost/errors';

export const REDRIVE_USAGE = `Usage: ai-burst redrive --function-name NAME [--job-ids id,id,…] [--max-jobs N] [--region R]
Send parked jobs back to their priority queues by invoking the workload's redrive Lambda.
  --function-name NAME   the workload's redrive Lambda (RetryHandler.redriveFunction)
  --job-ids a,b,…        only these parked jobs (default: every parked job)
  --max-jobs N           at most N jobs this run (1–10000; default: the function's limit)
  --region R             AWS region of the function (default: AWS_REGION or your profile's region)
Needs AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) allowed lambda:InvokeFunction
on the function (RetryHandler.grantRedrive). Prints the report { redriven, stale, kept, errors, more }; run again
while "more" is true.
`;

export async function redriveCommand(argv: string[], lambda?: LambdaClient, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const values = parseFlags(argv, { 'function-name': 'string', 'job-ids': 'string', 'max-jobs': 'string', region: 'string' }, 'ai-burst redrive');
  if (values.help) {
    out.write(REDRIVE_USAGE);
    return 0;
  }
  const functionName = flagString(values['function-name']);
  if (!functionName) throw new InputError("--function-name: required (the RetryHandler's redrive function)");
  const jobIds = flagList(values['job-ids']);
  const bad = jobIds?.find((id) => !JOB_ID_PATTERN.test(id));
  if (bad) throw new InputError(`--job-ids: ${JSON.stringify(bad)} is not a job id (<workload>.<uuid>)`);
  const maxJobs = values['max-jobs'] === undefined ? undefined : requireInteger(values['max-jobs'], '--max-jobs', 1, 10000);
  const region = flagString(values.region);
  const client = lambda ?? new LambdaClient(region ? { region } : {});
  let r: InvokeCommandOutput;
  try {
    r = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify({ ...(jobIds ? { jobIds } : {}), ...(maxJobs ? { maxJobs } : {}) })),
      }),
    );
  } catch (err) {
    throw await explain(err, functionName, client);
  }
  const body = r.Payload ? Buffer.from(r.Payload).toString('utf8') : '';
  if (r.FunctionError) {
    process.stderr.write(`ai-burst: redrive failed: ${body.slice(0, 500)}\n`);
    return 1;
  }
  out.write(`${body}\n`);
  return 0;
}

/** The invoke's failure as one line saying what to fix; errors that are not the caller's set-up pass through. */
async function explain(err: unknown, functionName: string, client: LambdaClient): Promise<unknown> {
  const name = (err as Error)?.name;
  if (name === 'AccessDeniedException') {
    return new InputError(
      `redrive: not allowed to invoke ${JSON.stringify(functionName)} (${name}): your credentials need ` +
        'lambda:InvokeFunction on it (RetryHandler.grantRedrive)',
    );
  }
  if (name === 'ResourceNotFoundException') {
    const region = await client.config.region().catch(() => 'this region');
    return new InputError(
      `redrive: no function ${JSON.stringify(functionName)} in ${region}: check --function-name ` +
        "(the redriveFunction's name, an output of the example app) and --region",
    );
  }
  const problem = awsSetupProblem(err, 'lambda:InvokeFunction on the function (RetryHandler.grantRedrive)');
  return problem ? new InputError(`redrive: ${problem}`) : err;
}
