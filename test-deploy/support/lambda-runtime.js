/**
 * Child process that stands in for the Lambda runtime (moto cannot run functions without Docker): loads one
 * function's code from its asset directory with the deployed function's environment (set by the parent), then
 * answers `{ id, event, remainingMs }` messages with `{ id, result }` or `{ id, error }`. One process per
 * function, kept for the whole test, like a warm container. Plain JavaScript: it runs the shipped bundle as is.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [dir, handlerSpec] = process.argv.slice(2);
const dot = handlerSpec.lastIndexOf('.');
const file = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);
const entry = ['.js', '.cjs', '.mjs'].map((ext) => path.join(dir, file + ext)).find((p) => fs.existsSync(p));
if (!entry) throw new Error(`${handlerSpec}: no ${file}.js, .cjs or .mjs in ${dir}`);
const mod = require(entry);
if (!mod || typeof mod[exportName] !== 'function') throw new Error(`${handlerSpec}: no function ${exportName} in ${dir}/${file}`);
const handler = mod[exportName];

process.on('message', async ({ id, event, remainingMs }) => {
  const deadline = Date.now() + (remainingMs ?? 60000);
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: process.env.AI_BURST_TEST_FUNCTION_ARN,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: `req-${id}`,
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    logStreamName: 'deploy-test',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    process.send({ id, result: result === undefined ? null : result });
  } catch (e) {
    process.send({ id, error: { name: e && e.name, message: String((e && e.message) || e), stack: e && e.stack } });
  }
});
process.send({ ready: true });
