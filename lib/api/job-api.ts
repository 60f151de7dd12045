import { Duration, Names, Size, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { createHash } from 'crypto';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { workloadMetric } from '../common/metrics';
import { Construct } from 'constructs';
import {
  AGENT_NAME_PATTERN,
  API_CONFIG_VERSION,
  ApiConfig,
  ApiErrorCodes,
  DEFAULT_INLINE_PAYLOAD_MAX_BYTES,
  EnvNames,
  METRIC_NAMESPACE,
  MetricNames,
  SHARED_WORKLOAD_TAG_VALUE,
  splitApiConfig,
  SQS_MAX_MESSAGE_BYTES,
  SSM_STANDARD_PARAMETER_MAX_BYTES,
} from '../contracts';
import { grantKey } from '../common/grants';
import { HANDLER, handlerCode } from '../common/handler';
import { acknowledgeNag, nagArn } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { PropError, propError, validateDuration, validateInteger, validatePattern, validateRange } from '../common/validate';
import { IJobQueue } from '../queue/job-queue';
import { IJobStore } from '../store/job-store';
import { CognitoAuthorization, JobApiAuthorization, JobApiAuthorizationKind } from './job-api-authorization';
import { submitRequestSchema } from './submit-request-schema';

/** One workload the API serves. */
export interface JobApiWorkload {
  /** The workload's queues; its name and priorities are the API's workload and priority values. */
  readonly queue: IJobQueue;
  /**
   * The workload's CapacityManager function, invoked asynchronously (`InvocationType: 'Event'`, payload
   * `{"wake":true,…}`) when a job arrives while the workload's queues are empty, so a fleet at zero starts
   * at once instead of at its next scheduled evaluation. Debounced per warm submit Lambda (`wakeDebounce`).
   * @default - no wake-up: the fleet starts at the manager's next scheduled evaluation
   */
  readonly wakeFunction?: lambda.IFunction;
}

/** An API Gateway usage plan for the API's stage; every method then requires an API key. */
export interface JobApiUsagePlanOptions {
  /** @default - the stage's throttling only */
  readonly throttle?: apigateway.ThrottleSettings;
  /** @default - no quota */
  readonly quota?: apigateway.QuotaSettings;
}

export interface JobApiProps {
  /** Job records and job data (payloads, results), shared by every workload. */
  readonly store: IJobStore;
  /** The workloads the API serves (1 to 20, distinct names). */
  readonly workloads: JobApiWorkload[];
  /**
   * How callers authenticate, on every method.
   * @default JobApiAuthorization.iam() — SigV4; grant callers with grantSubmit / grantRead / grantCancel
   */
  readonly authorization?: JobApiAuthorization;
  /**
   * Name of the deployment stage (the first path segment of the URL).
   * @default 'v1'
   */
  readonly stageName?: string;
  /**
   * Steady-state requests per second the stage accepts over all methods and callers (1 to 10000).
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests the stage accepts above the rate (1 to 5000).
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * A usage plan bound to the stage: every method then requires an API key (`x-api-key`); add keys with
   * `api.usagePlan.addApiKey(key)`.
   * @default - no usage plan, no API keys
   */
  readonly usagePlan?: JobApiUsagePlanOptions;
  /**
   * ARN of an AWS WAF (v2, REGIONAL scope) web ACL to associate with the stage.
   * @default - no web ACL (IAM or Cognito auth, request validation and stage throttling still apply)
   */
  readonly webAclArn?: string;
  /**
   * Largest request body (and inline payload) accepted; larger inputs use `payloadUpload`. The job message
   * carries an inline payload, so 1 KiB to 256 KiB (the SQS message limit).
   * @default Size.kibibytes(256)
   */
  readonly inlinePayloadLimit?: Size;
  /**
   * Lifetime of the pre-signed PUT URL a `payloadUpload` answers with (1 minute to 1 hour).
   * @default Duration.minutes(15)
   */
  readonly uploadUrlExpiry?: Duration;
  /**
   * Lifetime of the pre-signed GET URL `GET /jobs/{id}/result` answers with (10 seconds to 1 hour).
   * @default Duration.minutes(5)
   */
  readonly resultUrlExpiry?: Duration;
  /**
   * At most one backlog probe and one wake per workload per this window per warm submit Lambda (0 to 5 min).
   * @default Duration.seconds(30)
   */
  readonly wakeDebounce?: Duration;
  /**
   * Daily spend limits (USD per UTC day, over all the API's workloads) by agent name. An agent at or over
   * its limit gets 429 BUDGET_EXCEEDED and nothing is queued. Spend comes from the CostReporter's
   * `SpendUsd` metric (dimensions Workload + Agent): lags a few minutes, see `budgetCacheDuration`.
   * @default - no per-agent limits
   */
  readonly dailyBudgetsUsd?: Record<string, number>;
  /**
   * Daily limit for agents not named in `dailyBudgetsUsd`.
   * @default - agents not named are not limited
   */
  readonly defaultDailyBudgetUsd?: number;
  /**
   * How long a warm submit Lambda reuses an agent's spend reading (0 to 15 minutes): the longer, the fewer
   * GetMetricData calls and the later an agent is stopped.
   * @default Duration.minutes(1)
   */
  readonly budgetCacheDuration?: Duration;
  /**
   * Namespace the CostReporter publishes `SpendUsd` to.
   * @default METRIC_NAMESPACE ('AiBurst')
   */
  readonly metricNamespace?: string;
  /**
   * Create the account-level role API Gateway writes the stage's CloudWatch logs with (an account/region
   * singleton: enable it in one stack only). Turns on access and execution logs by default.
   * @default false
   */
  readonly cloudWatchRole?: boolean;
  /**
   * JSON access logs of the stage in `accessLogGroup`. Like execution logs they need the account's API Gateway
   * CloudWatch role (once per account and region; without it the stage fails to deploy with "CloudWatch Logs
   * role ARN must be set in account settings"): set `cloudWatchRole`, or set this when the role is configured
   * outside this stack.
   * @default - true with `cloudWatchRole: true`, else false
   */
  readonly accessLogs?: boolean;
  /**
   * Execution log level of the stage (`OFF`, `ERROR` or `INFO`; request and response bodies are never logged).
   * Needs the account's API Gateway CloudWatch role, as `accessLogs` does.
   * @default - `ERROR` with `cloudWatchRole: true`, else `OFF`
   */
  readonly executionLogLevel?: apigateway.MethodLoggingLevel;
  /**
   * How long access logs and the Lambdas' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Value of the `ai-burst:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'JobApi';
const SUBMIT_TIMEOUT = Duration.seconds(15);
const STATUS_TIMEOUT = Duration.seconds(10);

/**
 * The job API of a platform: `POST /jobs` (202 + job id at once; a pre-signed upload URL for large inputs),
 * `GET /jobs/{id}`, `GET /jobs/{id}/result` (a short-lived pre-signed URL or the inline result),
 * `DELETE /jobs/{id}` (cancel a queued job). API Gateway REST with IAM (default) or Cognito auth on every
 * method, body and parameter validation against a JSON-schema model, stage throttling, JSON access logs,
 * execution logs, X-Ray, optional usage plan and WAF; errors are `{ error: { code, message } }` everywhere,
 * API Gateway's own included. The submit Lambda is the JobClient (`cdk-ai-burst/client`) behind HTTP.
 */
export class JobApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly stage: apigateway.Stage;
  public readonly submitFunction: lambda.IFunction;
  public readonly statusFunction: lambda.IFunction;
  public readonly submitRole: iam.Role;
  public readonly statusRole: iam.Role;
  /** The stage's access logs, when `accessLogs` is on. */
  public readonly accessLogGroup?: logs.LogGroup;
  public readonly requestValidator: apigateway.RequestValidator;
  public readonly usagePlan?: apigateway.UsagePlan;
  public readonly webAclAssociation?: wafv2.CfnWebACLAssociation;
  /** Workload names served, in the order given. */
  public readonly workloads: string[];
  /** The SSM String parameters holding the handlers' ApiConfig, in parts of at most 4 KB (read once per cold start). */
  public readonly configParameters: ssm.StringParameter[];
  /** `https://…/<stage>/` */
  public readonly url: string;
  private readonly stageName: string;

  constructor(scope: Construct, id: string, props: JobApiProps) {
    super(scope, id);
    validateProps(props);
    const store = props.store;
    this.workloads = props.workloads.map((w) => w.queue.workload);
    this.stageName = props.stageName ?? 'v1';
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const metricNamespace = props.metricNamespace ?? METRIC_NAMESPACE;
    const auth = props.authorization ?? JobApiAuthorization.iam();

    const config: ApiConfig = {
      v: API_CONFIG_VERSION,
      workloads: Object.fromEntries(
        props.workloads.map((w) => [
          w.queue.workload,
          {
            queues: w.queue.priorities.map((priority, i) => ({ priority, url: w.queue.queues[i].queueUrl })),
            ...(w.wakeFunction ? { wakeFunction: w.wakeFunction.functionArn } : {}),
          },
        ]),
      ),
      inlinePayloadMaxBytes: (props.inlinePayloadLimit ?? Size.bytes(DEFAULT_INLINE_PAYLOAD_MAX_BYTES)).toBytes(),
      uploadUrlSeconds: (props.uploadUrlExpiry ?? Duration.minutes(15)).toSeconds(),
      resultUrlSeconds: (props.resultUrlExpiry ?? Duration.minutes(5)).toSeconds(),
      wakeDebounceSeconds: (props.wakeDebounce ?? Duration.seconds(30)).toSeconds(),
      retentionSeconds: store.retention.toSeconds(),
      ...(props.dailyBudgetsUsd || props.defaultDailyBudgetUsd !== undefined
        ? {
            budgets: {
              dailyLimitsUsd: { ...(props.dailyBudgetsUsd ?? {}) },
              ...(props.defaultDailyBudgetUsd !== undefined ? { defaultDailyLimitUsd: props.defaultDailyBudgetUsd } : {}),
              cacheSeconds: (props.budgetCacheDuration ?? Duration.minutes(1)).toSeconds(),
              metricNamespace,
            },
          }
        : {}),
    };
    // The configuration lives in SSM String parameters (standard tier, free), not in the environment: Lambda's
    // 4 KB of variables held 8 workloads, while 20 workloads x 5 priorities need ~20 KB (a queue URL is up to
    // ~140 characters). SSM rather than a file next to the handler code: the queue URLs are deploy-time values
    // (tokens), which CloudFormation resolves into a parameter but not into a prebuilt code asset; rather than
    // S3: no custom resource to write the object. Read once per cold start (one GetParameters per 10 parts).
    const parts = splitApiConfig(config, estimateDeployedBytes, SSM_STANDARD_PARAMETER_MAX_BYTES);
    checkParts(parts);
    this.configParameters = parts.map(
      (part, i) =>
        new ssm.StringParameter(this, `ConfigPart${i}`, {
          description: `cdk-ai-burst JobApi configuration, part ${i + 1} of ${parts.length}`,
          stringValue: Stack.of(this).toJsonString(part),
          tier: ssm.ParameterTier.STANDARD,
        }),
    );
    const environment = {
      [EnvNames.API_CONFIG_PARAMETERS]: Stack.of(this).toJsonString(this.configParameters.map((p) => p.parameterName)),
      // A warm handler keeps the configuration it read: any change to the configuration's template changes this
      // variable, so the deploy replaces the execution environments and the next cold start reads the new parts.
      [EnvNames.API_CONFIG_DIGEST]: createHash('sha256')
        .update(JSON.stringify(Stack.of(this).resolve(parts)))
        .digest('hex')
        .slice(0, 16),
      [EnvNames.JOB_TABLE]: store.table.tableName,
      [EnvNames.METRIC_NAMESPACE]: metricNamespace,
    };

    // ---- Lambdas: explicit roles (log writes to their own group only), X-Ray, JSON logs ----
    const submit = this.createFunction(
      'Submit',
      'submit',
      SUBMIT_TIMEOUT,
      retention,
      { ...environment, [EnvNames.PAYLOAD_BUCKET]: store.bucket.bucketName },
      'cdk-ai-burst: POST /jobs - check, record and queue a job',
    );
    const status = this.createFunction(
      'Status',
      'status',
      STATUS_TIMEOUT,
      retention,
      { ...environment, [EnvNames.RESULT_BUCKET]: store.bucket.bucketName },
      'cdk-ai-burst: GET /jobs/{id}, GET /jobs/{id}/result, DELETE /jobs/{id}',
    );
    this.submitFunction = submit.fn;
    this.submitRole = submit.role;
    this.statusFunction = status.fn;
    this.statusRole = status.role;
    for (const role of [submit.role, status.role]) {
      iam.Grant.addToPrincipal({ grantee: role, actions: ['ssm:GetParameters'], resourceArns: this.configParameters.map((p) => p.parameterArn) });
    }

    // Submit: send to the workloads' queues, write their records and idempotency keys, sign payload PUTs,
    // check committed uploads exist (HeadObject needs s3:GetObject), wake their capacity managers.
    for (const w of props.workloads) {
      w.queue.grantSubmit(submit.role);
      store.grantReadWriteRecords(submit.role, w.queue.workload);
      store.grantWritePayloads(submit.role, w.queue.workload);
      store.grantReadPayloads(submit.role, w.queue.workload);
      if (w.wakeFunction) {
        iam.Grant.addToPrincipal({ grantee: submit.role, actions: ['lambda:InvokeFunction'], resourceArns: [w.wakeFunction.functionArn] });
      }
    }
    if (config.budgets) {
      submit.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadAgentSpend',
          actions: ['cloudwatch:GetMetricData'],
          resources: ['*'],
        }),
      );
    }
    // Status: read records and cancel (one conditional UpdateItem), confined to the API's workloads; read results.
    iam.Grant.addToPrincipal({
      grantee: status.role,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [store.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': this.workloads.map((w) => `${w}.*`) } },
    });
    grantKey(store.encryptionKey, status.role, 'encrypt');
    for (const w of this.workloads) store.grantReadResults(status.role, w);

    acknowledgeNag(
      submit.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace writes (xray:PutTraceSegments, xray:PutTelemetryRecords)' +
        (config.budgets ? " and cloudwatch:GetMetricData (the agents' SpendUsd for budgets)" : '') +
        ' support no resource-level permissions; they are write-only telemetry or read-only metrics. No wildcard actions.',
    );
    acknowledgeNag(
      status.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace writes (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions; ' +
        'they are write-only telemetry. No wildcard actions.',
    );
    const syncOnly =
      'Invoked only synchronously by API Gateway (Lambda proxy integration): a failure is returned to the ' +
      'caller as a JSON 5xx at once, so there is no asynchronous event to dead-letter or retry.';
    for (const fn of [submit.fn, status.fn]) {
      acknowledgeNag(fn, 'Serverless-LambdaDLQ', syncOnly);
    }

    // ---- REST API ----
    // Stage logging to CloudWatch needs the account-level role, which a fresh account/region lacks: on only when
    // this API creates the role or the user says it exists (accessLogs / executionLogLevel).
    const cloudWatchRole = props.cloudWatchRole ?? false;
    const executionLogLevel = props.executionLogLevel ?? (cloudWatchRole ? apigateway.MethodLoggingLevel.ERROR : apigateway.MethodLoggingLevel.OFF);
    this.accessLogGroup = (props.accessLogs ?? cloudWatchRole) ? new logs.LogGroup(this, 'AccessLogs', { retention }) : undefined;
    this.api = new apigateway.RestApi(this, 'Resource', {
      restApiName: Names.uniqueResourceName(this, { maxLength: 128, separator: '-' }),
      description: `cdk-ai-burst job API (${this.workloads.join(', ')})`,
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      cloudWatchRole,
      deployOptions: {
        stageName: this.stageName,
        ...(this.accessLogGroup
          ? {
              accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
              accessLogFormat: accessLogFormat(auth),
            }
          : {}),
        loggingLevel: executionLogLevel,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttlingRateLimit ?? 100,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 200,
      },
    });
    // Library constructs add no stack outputs; the RestApi's default `Endpoint` output is removed (use `url`).
    this.api.node.tryRemoveChild('Endpoint');
    this.stage = this.api.deploymentStage;
    this.url = this.api.url;

    this.requestValidator = new apigateway.RequestValidator(this, 'Validator', {
      restApi: this.api,
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const submitModel = new apigateway.Model(this, 'SubmitJobModel', {
      restApi: this.api,
      contentType: 'application/json',
      modelName: 'SubmitJob',
      description: 'POST /jobs request body',
      schema: submitRequestSchema(props.workloads.map((w) => ({ workload: w.queue.workload, priorities: w.queue.priorities }))),
    });

    const methodAuth = this.methodAuthorization(auth);
    const apiKeyRequired = props.usagePlan !== undefined;
    const submitIntegration = new apigateway.LambdaIntegration(submit.fn, { proxy: true, allowTestInvoke: false });
    const statusIntegration = new apigateway.LambdaIntegration(status.fn, { proxy: true, allowTestInvoke: false });
    const jobs = this.api.root.addResource('jobs');
    const job = jobs.addResource('{id}');
    const result = job.addResource('result');
    const pathId = { 'method.request.path.id': true };
    jobs.addMethod('POST', submitIntegration, {
      ...methodAuth,
      apiKeyRequired,
      requestValidator: this.requestValidator,
      requestParameters: { 'method.request.header.Content-Type': true },
      requestModels: { 'application/json': submitModel },
      operationName: 'SubmitJob',
    });
    job.addMethod('GET', statusIntegration, {
      ...methodAuth,
      apiKeyRequired,
      requestValidator: this.requestValidator,
      requestParameters: pathId,
      operationName: 'GetJob',
    });
    job.addMethod('DELETE', statusIntegration, {
      ...methodAuth,
      apiKeyRequired,
      requestValidator: this.requestValidator,
      requestParameters: pathId,
      operationName: 'CancelJob',
    });
    result.addMethod('GET', statusIntegration, {
      ...methodAuth,
      apiKeyRequired,
      requestValidator: this.requestValidator,
      requestParameters: pathId,
      operationName: 'GetJobResult',
    });

    addGatewayResponses(this.api);

    if (props.usagePlan) {
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        description: 'cdk-ai-burst job API',
        throttle: props.usagePlan.throttle,
        quota: props.usagePlan.quota,
        apiStages: [{ api: this.api, stage: this.stage }],
      });
    }

    if (props.webAclArn !== undefined) {
      this.webAclAssociation = new wafv2.CfnWebACLAssociation(this, 'WebAcl', { resourceArn: this.stage.stageArn, webAclArn: props.webAclArn });
    } else {
      acknowledgeNag(
        this.stage,
        'AwsSolutions-APIG3',
        'WAF is optional (prop webAclArn): every method requires IAM SigV4 or Cognito auth, bodies and parameters are ' +
          'validated against a JSON-schema model, and the stage is throttled, so anonymous floods never reach the Lambdas.',
      );
    }
    const noRole =
      'API Gateway writes REST stage logs to CloudWatch only with the account-level CloudWatch role, which a fresh account ' +
      'and region lack (the stage then fails to deploy), so they are on with cloudWatchRole: true or when the user says the role exists ' +
      '(accessLogs, executionLogLevel). Without them the stage still publishes metrics and X-Ray traces, and both Lambdas log every request.';
    if (!this.accessLogGroup) {
      acknowledgeNag(this.stage, 'AwsSolutions-APIG1', noRole);
      acknowledgeNag(this.stage, 'Serverless-APIGWAccessLogging', noRole);
    } else {
      acknowledgeNag(
        this.stage,
        'Serverless-APIGWStructuredLogging',
        'The access log format is one JSON object per line; the rule cannot parse ' +
          'it because $context.error.messageString, which API Gateway substitutes as a quoted, escaped JSON string, stands unquoted.',
      );
    }
    if (executionLogLevel === apigateway.MethodLoggingLevel.OFF) acknowledgeNag(this.stage, 'AwsSolutions-APIG6', noRole);
    if (auth.kind === JobApiAuthorizationKind.IAM) {
      for (const m of this.api.methods) {
        acknowledgeNag(
          m,
          'AwsSolutions-COG4',
          'The method uses AWS IAM (SigV4) authorization, the default for service-to-service callers; Cognito user pools ' +
            'are available with JobApiAuthorization.cognito().',
        );
      }
    }
    if (props.cloudWatchRole) {
      const role = this.api.node.tryFindChild('CloudWatchRole');
      if (role) {
        acknowledgeNag(
          role,
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
          'The account-level role API Gateway writes execution logs with; AWS maintains this policy for exactly that purpose ' +
            'and the role can be assumed only by apigateway.amazonaws.com.',
        );
      }
    }

    applyCostTags(this, this.workloads.length === 1 ? this.workloads[0] : SHARED_WORKLOAD_TAG_VALUE, props.costCenter);
  }

  /** Let an IAM principal submit jobs (`execute-api:Invoke` on POST /jobs of this stage). */
  public grantSubmit(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvoke(grantee, 'POST', 'jobs', false);
  }

  /** Let an IAM principal read jobs and results (GET /jobs/{id}, GET /jobs/{id}/result). */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvoke(grantee, 'GET', 'jobs/*', true);
  }

  /** Let an IAM principal cancel queued jobs (DELETE /jobs/{id}). */
  public grantCancel(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvoke(grantee, 'DELETE', 'jobs/*', true);
  }

  /** Jobs queued through the API for one workload (`JobsSubmitted`, Sum). */
  public metricJobsSubmitted(workload: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return workloadMetric(workload, MetricNames.JOBS_SUBMITTED, props);
  }

  /** 4XX answers of the stage (bad input, auth, throttling, budgets), Sum. */
  public metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricClientError({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** 5XX answers of the stage, Sum. */
  public metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricServerError({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** End-to-end latency of the stage, p99 by default. */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricLatency({ statistic: 'p99', period: Duration.minutes(1), ...props });
  }

  private grantInvoke(grantee: iam.IGrantable, method: string, path: string, wildcard: boolean): iam.Grant {
    const stack = Stack.of(this);
    const resourceName = `${this.stageName}/${method}/${path}`;
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [stack.formatArn({ service: 'execute-api', resource: this.api.restApiId, resourceName })],
    });
    const principal = grantee.grantPrincipal as unknown as Construct;
    if (wildcard && principal?.node) {
      const apiId = stack.getLogicalId(this.api.node.defaultChild as apigateway.CfnRestApi);
      acknowledgeNag(
        principal,
        `AwsSolutions-IAM5[Resource::${nagArn(stack, 'execute-api', `<${apiId}>/${resourceName}`)}]`,
        `The wildcard is the job id in the path: execute-api:Invoke on ${method} /${path} of stage ${this.stageName} only.`,
      );
    }
    return grant;
  }

  private methodAuthorization(auth: JobApiAuthorization): Pick<apigateway.MethodOptions, 'authorizationType' | 'authorizer' | 'authorizationScopes'> {
    if (auth instanceof CognitoAuthorization) {
      const authorizer = new apigateway.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: auth.options.userPools });
      return {
        authorizationType: apigateway.AuthorizationType.COGNITO,
        authorizer,
        ...(auth.options.scopes?.length ? { authorizationScopes: auth.options.scopes } : {}),
      };
    }
    return { authorizationType: apigateway.AuthorizationType.IAM };
  }

  private createFunction(
    id: string,
    entry: string,
    timeout: Duration,
    retention: logs.RetentionDays,
    environment: Record<string, string>,
    description: string,
  ): { fn: nodejs.NodejsFunction; role: iam.Role } {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention });
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const fn = new nodejs.NodejsFunction(this, `${id}Function`, {
      code: handlerCode(entry),
      handler: HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      description,
      environment,
    });
    return { fn, role };
  }
}

/**
 * One JSON object per line. API Gateway substitutes variables verbatim, so a quote in a value breaks the
 * line: free text comes only pre-quoted (`$context.error.messageString`, JSON-escaped by API Gateway, written
 * unquoted), every other field holds ids, numbers, ARNs or enums. The User-Agent is client-chosen free text
 * with no pre-quoted form, so it is left out (a quote in it would break or forge fields of the line).
 */
function accessLogFormat(auth: JobApiAuthorization): apigateway.AccessLogFormat {
  const F = apigateway.AccessLogField;
  const json = JSON.stringify({
    requestId: F.contextRequestId(),
    extendedRequestId: F.contextExtendedRequestId(),
    requestTime: F.contextRequestTime(),
    ip: F.contextIdentitySourceIp(),
    caller: auth.kind === JobApiAuthorizationKind.IAM ? F.contextIdentityCaller() : F.contextAuthorizerClaims('sub'),
    user: auth.kind === JobApiAuthorizationKind.IAM ? F.contextIdentityUserArn() : F.contextAuthorizerClaims('client_id'),
    apiKeyId: F.contextIdentityApiKeyId(),
    httpMethod: F.contextHttpMethod(),
    resourcePath: F.contextResourcePath(),
    status: F.contextStatus(),
    protocol: F.contextProtocol(),
    responseLength: F.contextResponseLength(),
    responseLatencyMs: F.contextResponseLatency(),
    integrationLatencyMs: F.contextIntegrationLatency(),
    errorType: F.contextErrorResponseType(),
    errorMessage: F.contextErrorMessageString(),
    wafStatus: F.contextWafResponseCode(),
  });
  return apigateway.AccessLogFormat.custom(json.replace(JSON.stringify(F.contextErrorMessageString()), F.contextErrorMessageString()));
}

/**
 * API Gateway's own answers (auth failures, validation, throttling, timeouts) in the same
 * `{ error: { code, message } }` shape as the handlers', with no internal names.
 */
function addGatewayResponses(api: apigateway.RestApi): void {
  const T = apigateway.ResponseType;
  const C = ApiErrorCodes;
  const answers: Array<[string, apigateway.ResponseType, string, string, string | null]> = [
    ['Default4xx', T.DEFAULT_4XX, C.BAD_REQUEST, 'the request was refused', null],
    ['Default5xx', T.DEFAULT_5XX, C.INTERNAL_ERROR, 'the request failed on our side; retry it', null],
    [
      'BadRequestBody',
      T.BAD_REQUEST_BODY,
      C.INVALID_REQUEST,
      'the body does not match the SubmitJob schema: a JSON object with workload, agent and exactly one of payload, payloadUpload or uploadId; ' +
        'known workloads, priorities and name patterns only; no other fields',
      '400',
    ],
    [
      'BadRequestParameters',
      T.BAD_REQUEST_PARAMETERS,
      C.INVALID_REQUEST,
      'a required parameter is missing: POST /jobs needs the header Content-Type: application/json; job routes need a job id',
      '400',
    ],
    ['UnsupportedMediaType', T.UNSUPPORTED_MEDIA_TYPE, C.UNSUPPORTED_MEDIA_TYPE, 'Content-Type must be application/json', '415'],
    [
      'RequestTooLarge',
      T.REQUEST_TOO_LARGE,
      C.PAYLOAD_TOO_LARGE,
      'the request is too large; submit with payloadUpload: true and PUT the input to the returned upload URL',
      '413',
    ],
    ['AccessDenied', T.ACCESS_DENIED, C.ACCESS_DENIED, 'the caller is not allowed to call this method', '403'],
    [
      'MissingAuthenticationToken',
      T.MISSING_AUTHENTICATION_TOKEN,
      C.ACCESS_DENIED,
      'missing authentication (sign the request with SigV4 or send a token), or no such route',
      '403',
    ],
    ['InvalidSignature', T.INVALID_SIGNATURE, C.ACCESS_DENIED, 'the request signature is invalid', '403'],
    ['ExpiredToken', T.EXPIRED_TOKEN, C.ACCESS_DENIED, 'the credentials or token expired', '403'],
    ['InvalidApiKey', T.INVALID_API_KEY, C.ACCESS_DENIED, 'a valid API key (x-api-key) is required', '403'],
    ['WafFiltered', T.WAF_FILTERED, C.ACCESS_DENIED, 'the request was blocked by the web application firewall', '403'],
    ['Unauthorized', T.UNAUTHORIZED, C.UNAUTHORIZED, 'authentication is required', '401'],
    ['Throttled', T.THROTTLED, C.THROTTLED, 'too many requests; retry with exponential backoff', '429'],
    ['QuotaExceeded', T.QUOTA_EXCEEDED, C.QUOTA_EXCEEDED, 'the usage plan quota of this API key is spent', '429'],
    ['IntegrationTimeout', T.INTEGRATION_TIMEOUT, C.UPSTREAM_TIMEOUT, 'the request timed out; retry it with the same idempotencyKey', '504'],
    ['IntegrationFailure', T.INTEGRATION_FAILURE, C.SERVICE_UNAVAILABLE, 'the service is unavailable; retry it with the same idempotencyKey', '502'],
  ];
  for (const [id, type, code, message, statusCode] of answers) {
    api.addGatewayResponse(id, {
      type,
      ...(statusCode ? { statusCode } : {}),
      responseHeaders: { 'Cache-Control': "'no-store'", 'X-Content-Type-Options': "'nosniff'" },
      templates: { 'application/json': `{"error":{"code":"${code}","message":"${message} (request id $context.requestId)"}}` },
    });
  }
}

/**
 * Bytes a part takes once deployed. Queue URLs and function ARNs are tokens at synth time, so each counts as
 * 140 characters: the longest queue URL (https://sqs.<region>.amazonaws.com.cn/<account>/<80-character name>)
 * or function ARN (64-character name in the longest partition and region).
 */
function estimateDeployedBytes(json: string): number {
  const tokens = json.match(/\$\{Token\[[^\]]*\]\}/g) ?? [];
  return Buffer.byteLength(json) + tokens.reduce((n, t) => n + 140 - t.length, 0);
}

function checkParts(parts: ReturnType<typeof splitApiConfig>): void {
  parts.forEach((part, i) => {
    const bytes = estimateDeployedBytes(JSON.stringify(part));
    if (bytes <= SSM_STANDARD_PARAMETER_MAX_BYTES) return;
    throw new PropError(NAME, (name) =>
      i === 0
        ? `the handlers' settings would be about ${bytes} bytes, over the ${SSM_STANDARD_PARAMETER_MAX_BYTES} of one SSM standard parameter: ` +
          `name fewer agents in ${name('dailyBudgetsUsd')} (about 50 at 64-character names; use ${name('defaultDailyBudgetUsd')} for the rest)`
        : `workload ${Object.keys(part.workloads).join(', ')} would need about ${bytes} bytes of configuration, over the ` +
          `${SSM_STANDARD_PARAMETER_MAX_BYTES} of one SSM standard parameter: give it fewer priorities in ${name('workloads')}`,
    );
  });
}

function validateProps(props: JobApiProps): void {
  if (!props.workloads || props.workloads.length < 1 || props.workloads.length > 20) {
    throw propError(NAME, 'workloads', `must list 1 to 20 workloads (got ${props.workloads?.length ?? 0})`);
  }
  const names = props.workloads.map((w) => w.queue.workload);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw propError(NAME, 'workloads', `lists workload ${JSON.stringify(dup)} twice; give each workload once`);
  for (const w of props.workloads) {
    if (w.queue.priorities.length !== w.queue.queues.length || w.queue.priorities.length === 0) {
      throw propError(
        NAME,
        'workloads',
        `has workload ${JSON.stringify(w.queue.workload)} with ${w.queue.priorities.length} priorities but ` +
          `${w.queue.queues.length} queues; they must pair up`,
      );
    }
  }
  validatePattern(NAME, 'stageName', props.stageName, /^[A-Za-z0-9_-]{1,128}$/, 'use letters, digits, dashes and underscores, up to 128 characters');
  validateInteger(NAME, 'throttlingRateLimit', props.throttlingRateLimit, 1, 10000);
  validateInteger(NAME, 'throttlingBurstLimit', props.throttlingBurstLimit, 1, 5000);
  if (props.inlinePayloadLimit !== undefined && !Token.isUnresolved(props.inlinePayloadLimit.toBytes())) {
    validateRange(NAME, 'inlinePayloadLimit', props.inlinePayloadLimit.toBytes(), 1024, SQS_MAX_MESSAGE_BYTES, ' bytes');
  }
  validateDuration(NAME, 'uploadUrlExpiry', props.uploadUrlExpiry, Duration.minutes(1), Duration.hours(1));
  validateDuration(NAME, 'resultUrlExpiry', props.resultUrlExpiry, Duration.seconds(10), Duration.hours(1));
  validateDuration(NAME, 'wakeDebounce', props.wakeDebounce, Duration.seconds(0), Duration.minutes(5));
  validateDuration(NAME, 'budgetCacheDuration', props.budgetCacheDuration, Duration.seconds(0), Duration.minutes(15));
  for (const [agent, limit] of Object.entries(props.dailyBudgetsUsd ?? {})) {
    validatePattern(
      NAME,
      'dailyBudgetsUsd',
      agent,
      AGENT_NAME_PATTERN,
      'keys are agent names: 1 to 64 letters, digits, dots, dashes and underscores',
    );
    validateRange(NAME, `dailyBudgetsUsd[${JSON.stringify(agent)}]`, limit, 0.01, 1_000_000, ' USD');
  }
  validateRange(NAME, 'defaultDailyBudgetUsd', props.defaultDailyBudgetUsd, 0.01, 1_000_000, ' USD');
  validatePattern(
    NAME,
    'webAclArn',
    props.webAclArn,
    /^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/,
    'give the ARN of a REGIONAL-scope AWS WAF v2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>)',
  );
}
