import { Writable } from 'node:stream';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { redriveCommand } from '../../tools/bin/redrive-command';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

function sink() {
  const chunks: string[] = [];
  const out = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  });
  return { out, text: () => chunks.join('') };
}

const report = { redriven: ['agents.3f1c2b8e-9a4d-4c6b-8e2f-1a2b3c4d5e6f'], stale: [], kept: [], errors: [], more: false };

test('invokes the redrive function synchronously with the selected jobs and prints its report', async () => {
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(report)) as never });
  const { out, text } = sink();
  const code = await redriveCommand(
    ['--function-name', 'agents-redrive', '--job-ids', report.redriven[0], '--max-jobs', '50'],
    new LambdaClient({ region: 'us-east-1' }),
    out,
  );
  expect(code).toBe(0);
  const call = lambda.commandCalls(InvokeCommand)[0].args[0].input;
  expect(call).toMatchObject({ FunctionName: 'agents-redrive', InvocationType: 'RequestResponse' });
  expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString())).toEqual({ jobIds: report.redriven, maxJobs: 50 });
  expect(JSON.parse(text())).toEqual(report);
});

test('without --job-ids every parked job is redriven (empty payload)', async () => {
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(report)) as never });
  await redriveCommand(['--function-name', 'f'], new LambdaClient({ region: 'us-east-1' }), sink().out);
  expect(Buffer.from(lambda.commandCalls(InvokeCommand)[0].args[0].input.Payload as Uint8Array).toString()).toBe('{}');
});

test('a function error exits 1 without printing a report', async () => {
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from('{"errorMessage":"boom"}') as never });
  const { out, text } = sink();
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  expect(await redriveCommand(['--function-name', 'f'], new LambdaClient({ region: 'us-east-1' }), out)).toBe(1);
  expect(stderr.mock.calls[0][0]).toMatch(/redrive failed: .*boom/);
  stderr.mockRestore();
  expect(text()).toBe('');
});

test.each<[string, string[], RegExp]>([
  ['no function name', [], /--function-name: required/],
  ['a malformed job id', ['--function-name', 'f', '--job-ids', 'nope'], /--job-ids: "nope" is not a job id/],
  ['max-jobs 0', ['--function-name', 'f', '--max-jobs', '0'], /--max-jobs: expected an integer from 1 to 10000, got 0/],
  ['max-jobs in hex', ['--function-name', 'f', '--max-jobs', '0x10'], /--max-jobs: expected a decimal number, got "0x10"/],
  ['an unknown flag', ['--function-name', 'f', '--bogus'], /unknown flag --bogus/],
  [
    'a flag without its value',
    ['--function-name', '--max-jobs', '3'],
    /--function-name: missing its value \(found the next flag --max-jobs instead\)/,
  ],
])('fails with a clear input error on %s, calling nothing', async (_n, argv, message) => {
  await expect(redriveCommand(argv, new LambdaClient({ region: 'us-east-1' }), sink().out)).rejects.toThrow(message);
  expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
});

test.each<[string, Error, RegExp]>([
  [
    'access denied',
    Object.assign(new Error('User is not authorized to perform: lambda:InvokeFunction'), { name: 'AccessDeniedException' }),
    /redrive: not allowed to invoke "f" .*lambda:InvokeFunction.*grantRedrive/,
  ],
  [
    'no such function',
    Object.assign(new Error('Function not found: f'), { name: 'ResourceNotFoundException' }),
    /redrive: no function "f" in us-east-1: check --function-name.*--region/,
  ],
])('GIVEN %s THEN the message says what to fix', async (_n, error, message) => {
  lambda.on(InvokeCommand).rejects(error);
  await expect(redriveCommand(['--function-name', 'f'], new LambdaClient({ region: 'us-east-1' }), sink().out)).rejects.toThrow(message);
});
