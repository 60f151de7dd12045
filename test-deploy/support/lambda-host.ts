/**
 * Runs a deployed function's shipped code: the asset directory its template's Code.S3Key names, loaded in a
 * child Node process (support/lambda-runtime.js) with the environment moto reports for the deployed function
 * (GetFunctionConfiguration) plus what the Lambda runtime itself sets, and the SDK pointed at moto.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { assetForKey, StackArtifact } from './cloud-assembly';
import { DeployedStack, motoEnv } from './deploy-stack';

export interface DeployedFunction {
  readonly logicalId: string;
  readonly functionName: string;
  /** Environment of the deployed function as moto reports it (before the test's endpoint rewrite). */
  readonly deployedEnv: Readonly<Record<string, string>>;
  readonly codeDir: string;
  /** Invoke the handler; rejects with the handler's error. */
  invoke<T = any>(event: unknown, remainingMs?: number): Promise<T>;
  /** Every line the function wrote to stdout/stderr (its logs and EMF metrics). */
  readonly output: string[];
  stop(): Promise<void>;
}

/** Logical ids of the stack's Lambda functions whose logical id contains `fragment`. */
export function functionIds(stack: DeployedStack, fragment: string): string[] {
  return Object.entries(stack.template.Resources)
    .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes(fragment))
    .map(([id]) => id);
}

/**
 * What the Node.js Lambda runtime provides besides the code: the AWS SDK v3 (`@aws-sdk/*`, which the bundles
 * leave out). A folder with only `@aws-sdk` linked to this repo's installed SDK goes on NODE_PATH, so a bundle
 * that forgot any other dependency still fails to load, as it would in Lambda.
 */
export function runtimeModules(root: string, repo: string): string {
  const dir = path.join(root, 'node_modules');
  if (!fs.existsSync(path.join(dir, '@aws-sdk'))) {
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(path.join(repo, 'node_modules', '@aws-sdk'), path.join(dir, '@aws-sdk'), 'dir');
  }
  return dir;
}

export async function startFunction(opts: {
  /** NODE_PATH with the runtime's provided modules (runtimeModules). */
  runtimeNodePath: string;
  endpoint: string;
  deployed: DeployedStack;
  artifact: StackArtifact;
  logicalId: string;
  /** Applied to every value of the deployed environment (the documented SQS host workaround). */
  rewrite: (value: string) => string;
}): Promise<DeployedFunction> {
  const { endpoint, deployed, artifact, logicalId } = opts;
  const resource = deployed.template.Resources[logicalId];
  if (resource?.Type !== 'AWS::Lambda::Function') throw new Error(`${logicalId} is not a Lambda function of ${deployed.stackName}`);
  const functionName = deployed.physicalIds[logicalId];
  const lambda = new LambdaClient({ region: deployed.region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  lambda.destroy();
  const deployedEnv = config.Environment?.Variables ?? {};
  const s3Key = resource.Properties.Code.S3Key;
  const codeDir = assetForKey(artifact, s3Key).sourcePath;
  // The code moto holds for the function is the zip published from this asset directory.
  if (config.CodeSha256 !== deployed.publishedSha256[s3Key]) {
    throw new Error(
      `${logicalId}: deployed CodeSha256 ${config.CodeSha256} is not that of the published ${s3Key} ` + `(${deployed.publishedSha256[s3Key]})`,
    );
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...Object.fromEntries(Object.entries(deployedEnv).map(([k, v]) => [k, opts.rewrite(v)])),
    ...motoEnv(endpoint, deployed.region),
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.MemorySize ?? 128),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AI_BURST_TEST_FUNCTION_ARN: config.FunctionArn,
    LAMBDA_TASK_ROOT: codeDir,
    TZ: ':UTC',
    NODE_PATH: opts.runtimeNodePath,
  };
  const output: string[] = [];
  const child: ChildProcess = fork(path.join(__dirname, 'lambda-runtime.js'), [codeDir, config.Handler ?? 'index.handler'], {
    env,
    cwd: codeDir,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const collect = (b: Buffer) =>
    output.push(
      ...b
        .toString('utf8')
        .split('\n')
        .filter((l) => l.length > 0),
    );
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`${logicalId}: the function's code failed to load (exit ${code})\n${output.join('\n')}`));
    child.once('exit', onExit);
    child.once('message', () => {
      child.off('exit', onExit);
      resolve();
    });
  });
  child.on('message', (m: any) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(`${logicalId}: ${m.error.message}`), { name: m.error.name, stack: m.error.stack }));
    else p.resolve(m.result);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`${logicalId}: the function's process exited (${code})\n${output.slice(-20).join('\n')}`));
    pending.clear();
  });
  return {
    logicalId,
    functionName,
    deployedEnv,
    codeDir,
    output,
    invoke: (event, remainingMs) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ id, event, remainingMs: remainingMs ?? (config.Timeout ?? 3) * 1000 });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
