import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HANDLER, handlerCode } from '../common/handler';
import { acknowledgeNag } from '../common/nag';

/** Not a construct: the way the orchestration constructs create their Lambdas, in one place. */
export interface HandlerFunctionOptions {
  /** Folder under lambda/. */
  readonly handler: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  /** Dead-letter queue for failed asynchronous invocations. */
  readonly deadLetterQueue?: sqs.IQueue;
}

export interface HandlerFunction {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/**
 * A Node 24 NodejsFunction (prebuilt code from assets/, see common/handler) with its own log group and an explicit role
 * instead of AWSLambdaBasicExecutionRole: log writes go to this function's group only. X-Ray tracing is
 * active; its two write-only actions support no resource-level permissions.
 */
export function createHandlerFunction(scope: Construct, id: string, o: HandlerFunctionOptions): HandlerFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: o.description,
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  const fn = new nodejs.NodejsFunction(scope, id, {
    code: handlerCode(o.handler),
    handler: HANDLER,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: o.memorySize,
    timeout: o.timeout,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    role,
    tracing: lambda.Tracing.ACTIVE,
    description: o.description,
    environment: o.environment,
    deadLetterQueue: o.deadLetterQueue,
  });
  acknowledgeNag(
    role,
    'AwsSolutions-IAM5[Resource::*]',
    'Only X-Ray trace writes (xray:PutTraceSegments, xray:PutTelemetryRecords) are on "*": they support no resource-level permissions.',
  );
  return { function: fn, role, logGroup };
}
