import { Duration, Size } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { JobApi, JobApiAuthorization, JobQueue, JobStore } from '../../lib';
import { EnvNames } from '../../lib/contracts';
import { policyStatements } from '../support/nag';
import { expectNagClean, testStack } from '../support/stacks';

const WAKE_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:batch-capacity';

function fixture(stackId: string) {
  const { app, stack } = testStack(stackId);
  const store = new JobStore(stack, 'Store');
  const agents = new JobQueue(stack, 'AgentsJobs', { workload: 'agents', priorities: ['high', 'normal'] });
  const batch = new JobQueue(stack, 'BatchJobs', { workload: 'batch', priorities: ['normal'] });
  return { app, stack, store, agents, batch };
}

/** The environment of a function whose description starts with `prefix`. */
function environmentOf(t: Template, prefix: string): Record<string, unknown> {
  const [fn] = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp(`^${prefix}`) } }));
  return fn.Properties.Environment.Variables;
}

/** Statements of the policy attached to the role whose logical id contains `roleFragment`. */
function statementsOfRole(t: Template, roleFragment: string): Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleFragment))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('JobApi defaults (IAM auth, two workloads, a wake target, budgets)', () => {
  const { stack, store, agents, batch } = fixture('Api');
  const wake = lambda.Function.fromFunctionArn(stack, 'BatchCapacity', WAKE_ARN);
  const api = new JobApi(stack, 'Api', {
    store,
    workloads: [{ queue: agents }, { queue: batch, wakeFunction: wake }],
    dailyBudgetsUsd: { planner: 25 },
  });
  const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
  api.grantSubmit(caller);
  api.grantRead(caller);
  api.grantCancel(caller);
  const t = Template.fromStack(stack);

  test('four methods on /jobs, /jobs/{id}, /jobs/{id}/result, every one IAM-authorized and validated', () => {
    const methods = Object.values(t.findResources('AWS::ApiGateway::Method'));
    expect(methods.map((m) => m.Properties.HttpMethod).sort()).toEqual(['DELETE', 'GET', 'GET', 'POST']);
    const validators = t.findResources('AWS::ApiGateway::RequestValidator');
    const [validatorId] = Object.keys(validators);
    for (const m of methods) {
      expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(m.Properties.RequestValidatorId).toEqual({ Ref: validatorId });
      expect(m.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    }
    expect(
      Object.values(t.findResources('AWS::ApiGateway::Resource'))
        .map((r) => r.Properties.PathPart)
        .sort(),
    ).toEqual(['jobs', 'result', '{id}']);
  });

  test('the request validator checks body and parameters; POST requires Content-Type and the SubmitJob model', () => {
    t.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    t.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    t.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestParameters: { 'method.request.header.Content-Type': true },
      RequestModels: { 'application/json': { Ref: Match.stringLikeRegexp('SubmitJobModel') } },
    });
    for (const m of Object.values(t.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: Match.anyValue() } }))) {
      if (m.Properties.HttpMethod !== 'POST') expect(m.Properties.RequestParameters).toEqual({ 'method.request.path.id': true });
    }
  });

  test('the SubmitJob model: closed object, known workloads and priorities, contract patterns, exactly one payload form', () => {
    const [model] = Object.values(t.findResources('AWS::ApiGateway::Model'));
    const schema = model.Properties.Schema;
    expect(model.Properties.ContentType).toBe('application/json');
    expect(schema).toMatchObject({
      $schema: 'http://json-schema.org/draft-04/schema#',
      type: 'object',
      additionalProperties: false,
      required: ['workload', 'agent'],
      oneOf: [{ required: ['payload'] }, { required: ['payloadUpload'] }, { required: ['uploadId'] }],
    });
    expect(schema.properties.workload.enum).toEqual(['agents', 'batch']);
    expect(schema.properties.priority.enum).toEqual(['high', 'normal']);
    expect(schema.properties.idempotencyKey).toMatchObject({ maxLength: 128, minLength: 1 });
    expect(new RegExp(schema.properties.agent.pattern).test('planner')).toBe(true);
    expect(new RegExp(schema.properties.agent.pattern).test("x'; DROP TABLE jobs;--")).toBe(false);
    expect(schema.properties.payload).toEqual({ not: { type: 'null' } });
  });

  test('stage: throttled, X-Ray, metrics; no CloudWatch stage logging without the account role (a fresh account deploys)', () => {
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
          LoggingLevel: 'OFF',
          DataTraceEnabled: false,
          MetricsEnabled: true,
        }),
      ],
      AccessLogSetting: Match.absent(),
    });
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    t.resourceCountIs('AWS::ApiGateway::Account', 0); // the account-level role is opt-in
    expect(api.accessLogGroup).toBeUndefined();
  });

  test("API Gateway's own errors answer { error: { code, message } } with fixed messages", () => {
    const responses = Object.values(t.findResources('AWS::ApiGateway::GatewayResponse'));
    const byType = Object.fromEntries(responses.map((r) => [r.Properties.ResponseType, r.Properties]));
    for (const type of [
      'DEFAULT_4XX',
      'DEFAULT_5XX',
      'BAD_REQUEST_BODY',
      'BAD_REQUEST_PARAMETERS',
      'ACCESS_DENIED',
      'MISSING_AUTHENTICATION_TOKEN',
      'UNAUTHORIZED',
      'THROTTLED',
      'QUOTA_EXCEEDED',
      'REQUEST_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'INTEGRATION_TIMEOUT',
      'WAF_FILTERED',
    ]) {
      const template = byType[type]?.ResponseTemplates?.['application/json'];
      expect(template).toBeDefined();
      const body = JSON.parse(template.replace('$context.requestId', 'r-1'));
      expect(body).toEqual({ error: { code: expect.stringMatching(/^[A-Z_]+$/), message: expect.stringContaining('(request id r-1)') } });
    }
    expect(byType.THROTTLED.StatusCode).toBe('429');
    expect(JSON.parse(byType.BAD_REQUEST_BODY.ResponseTemplates['application/json'].replace('$context.requestId', 'r')).error.code).toBe(
      'INVALID_REQUEST',
    );
  });

  test('the handlers get the ApiConfig (in an SSM parameter they name): queues by priority, the wake target, limits and budgets', () => {
    const env = environmentOf(t, 'cdk-ai-burst: POST');
    expect(env[EnvNames.API_CONFIG]).toBeUndefined();
    expect(JSON.stringify(env[EnvNames.API_CONFIG_PARAMETERS])).toContain('ApiConfigPart0');
    const [param] = Object.values(t.findResources('AWS::SSM::Parameter'));
    const config = param.Properties.Value;
    expect(JSON.stringify(env[EnvNames.JOB_TABLE])).toMatch(/StoreTable/);
    // Fn::Join of the JSON: check its literal parts.
    const text = JSON.stringify(config);
    expect(text).toContain('\\"inlinePayloadMaxBytes\\":262144');
    expect(text).toContain('\\"wakeDebounceSeconds\\":30');
    expect(text).toContain('\\"dailyLimitsUsd\\":{\\"planner\\":25}');
    expect(text).toContain('\\"priority\\":\\"high\\"');
    expect(text).toContain(`\\"wakeFunction\\":\\"${WAKE_ARN}\\"`);
  });

  test('functions: Node 24, JSON logs to their own groups, X-Ray, explicit memory and timeouts', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 512,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: expect.objectContaining({ LogFormat: 'JSON', LogGroup: expect.objectContaining({ Ref: expect.stringMatching(/Logs/) }) }),
      });
      expect([10, 15]).toContain(fn.Properties.Timeout);
    }
    // Only API Gateway may invoke them, per method.
    const permissions = Object.values(t.findResources('AWS::Lambda::Permission'));
    expect(permissions.length).toBe(4);
    for (const p of permissions) expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
  });

  test("least privilege: submit sends, writes its workloads' records and payloads, invokes only the wake target; status reads and cancels", () => {
    const submit = statementsOfRole(t, 'ApiSubmitRole');
    const status = statementsOfRole(t, 'ApiStatusRole');
    const actions = (s: typeof submit) => s.flatMap((x) => [x.Action].flat()).sort();
    for (const a of [...actions(submit), ...actions(status)]) expect(a).not.toContain('*');
    expect(new Set(actions(submit))).toEqual(
      new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'sqs:SendMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:ConditionCheckItem',
        's3:PutObject',
        's3:GetObject',
        'lambda:InvokeFunction',
        'cloudwatch:GetMetricData',
        'ssm:GetParameters',
      ]),
    );
    expect(new Set(actions(status))).toEqual(
      new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        's3:GetObject',
        'ssm:GetParameters',
      ]),
    );
    const invoke = submit.find((s) => [s.Action].flat().includes('lambda:InvokeFunction'))!;
    expect(invoke.Resource).toBe(WAKE_ARN);
    const records = submit.filter((s) => [s.Action].flat().includes('dynamodb:PutItem'));
    expect(records.map((s) => s.Condition)).toEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*'] } },
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['batch.*'] } },
    ]);
    const statusRecords = status.find((s) => [s.Action].flat().includes('dynamodb:UpdateItem'))!;
    expect(statusRecords.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['agents.*', 'batch.*'] } });
    const objects = JSON.stringify(submit.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:'))).map((s) => s.Resource));
    expect(objects).toContain('/payloads/agents/*');
    expect(objects).not.toContain('/results/');
    const statusObjects = JSON.stringify(status.filter((s) => [s.Action].flat().includes('s3:GetObject')).map((s) => s.Resource));
    expect(statusObjects).toContain('/results/batch/*');
    expect(statusObjects).not.toContain('/payloads/');
    // Sends go to the work queues only (not the DLQ or parking queue).
    const sends = JSON.stringify(submit.filter((s) => [s.Action].flat().includes('sqs:SendMessage')).map((s) => s.Resource));
    expect(sends).not.toMatch(/DeadLetter|Parking/);
  });

  test('grantSubmit / grantRead / grantCancel: execute-api:Invoke on exactly those methods of the stage', () => {
    const statements = statementsOfRole(t, 'Caller').filter((s) => [s.Action].flat().includes('execute-api:Invoke'));
    const resources = statements.map((s) => JSON.stringify(s.Resource));
    expect(resources).toHaveLength(3);
    expect(resources.join('\n')).toMatch(/\/v1\/POST\/jobs"/);
    expect(resources.join('\n')).toMatch(/\/v1\/GET\/jobs\/\*"/);
    expect(resources.join('\n')).toMatch(/\/v1\/DELETE\/jobs\/\*"/);
  });

  test('JobsSubmitted is read with exactly the Workload dimension', () => {
    expect(stack.resolve(api.metricJobsSubmitted('agents').toMetricConfig().metricStat)).toMatchObject({
      namespace: 'AiBurst',
      metricName: 'JobsSubmitted',
      dimensions: [{ name: 'Workload', value: 'agents' }],
    });
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
  test('only the expected policy statements exist on "*"', () => {
    const onStar = policyStatements(t)
      .filter((s) => [s.Resource].flat().includes('*'))
      .flatMap((s) => [s.Action].flat());
    expect(new Set(onStar)).toEqual(new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'cloudwatch:GetMetricData']));
  });
});

describe('JobApi with every option: Cognito, WAF, usage plan, CloudWatch role, customer-managed key', () => {
  const { stack } = fixture('ApiAllOptions');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const store = new JobStore(stack, 'KeyedStore', { encryptionKey: key });
  const queue = new JobQueue(stack, 'Solo', { workload: 'solo', encryptionKey: key });
  const pool = new cognito.UserPool(stack, 'Pool', {
    mfa: cognito.Mfa.REQUIRED,
    mfaSecondFactor: { sms: false, otp: true },
    passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
    featurePlan: cognito.FeaturePlan.PLUS,
    advancedSecurityMode: undefined,
  });
  const api = new JobApi(stack, 'Api', {
    store,
    workloads: [{ queue }],
    authorization: JobApiAuthorization.cognito({ userPools: [pool], scopes: ['jobs/submit'] }),
    webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/jobs/0f8fad5b-d9cb-469f-a165-70867728950e',
    usagePlan: { throttle: { rateLimit: 10, burstLimit: 20 }, quota: { limit: 10000, period: apigateway.Period.DAY } },
    cloudWatchRole: true,
    executionLogLevel: apigateway.MethodLoggingLevel.INFO,
    stageName: 'prod',
    throttlingRateLimit: 50,
    throttlingBurstLimit: 60,
    inlinePayloadLimit: Size.kibibytes(64),
    uploadUrlExpiry: Duration.minutes(5),
    costCenter: 'research',
  });
  const t = Template.fromStack(stack);

  test('every method uses the Cognito authorizer with the scopes and requires an API key', () => {
    const methods = Object.values(t.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(4);
    for (const m of methods) {
      expect(m.Properties).toMatchObject({ AuthorizationType: 'COGNITO_USER_POOLS', AuthorizationScopes: ['jobs/submit'], ApiKeyRequired: true });
    }
    t.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS' });
  });

  test('WAF association, usage plan on the stage, execution logs at INFO, cost tags', () => {
    t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: Match.stringLikeRegexp('regional/webacl/jobs') });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 10, BurstLimit: 20 },
      Quota: { Limit: 10000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: { Ref: Match.stringLikeRegexp('DeploymentStageprod') } })],
    });
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      MethodSettings: [Match.objectLike({ LoggingLevel: 'INFO', ThrottlingRateLimit: 50, ThrottlingBurstLimit: 60 })],
    });
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    t.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Tags: Match.arrayWith([
        { Key: 'ai-burst:cost-center', Value: 'research' },
        { Key: 'ai-burst:workload', Value: 'solo' },
      ]),
      Name: Match.stringLikeRegexp('^ApiAllOptions-Api-'),
    });
    expect(api.usagePlan).toBeDefined();
  });

  test('with a customer-managed key the handlers may use it, with explicit actions', () => {
    const statements = statementsOfRole(t, 'ApiStatusRole').concat(statementsOfRole(t, 'ApiSubmitRole'));
    const kmsActions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('kms:'));
    expect(kmsActions.length).toBeGreaterThan(0);
    for (const a of kmsActions) expect(['kms:Decrypt', 'kms:GenerateDataKey']).toContain(a);
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

describe('JobApi props are validated at synth', () => {
  function make(over: Record<string, unknown>) {
    const { stack, store, agents } = fixture('Bad');
    return () => new JobApi(stack, 'Api', { store, workloads: [{ queue: agents }], ...over });
  }

  test('fails if no workloads', () => expect(make({ workloads: [] })).toThrow(/workloads must list 1 to 20 workloads \(got 0\)/));
  test('fails if a workload is given twice', () => {
    const { stack, store, agents } = fixture('Twice');
    expect(() => new JobApi(stack, 'Api', { store, workloads: [{ queue: agents }, { queue: agents }] })).toThrow(/workload "agents" twice/);
  });
  test('fails if the inline limit exceeds the SQS message limit', () =>
    expect(make({ inlinePayloadLimit: Size.kibibytes(512) })).toThrow(
      /inlinePayloadLimit must be between 1024 and 262144 bytes \(got 524288 bytes\)/,
    ));
  test('fails if throttling is out of range', () =>
    expect(make({ throttlingRateLimit: 0 })).toThrow(/throttlingRateLimit must be an integer between 1 and 10000 \(got 0\)/));
  test('fails if the upload URL lives longer than an hour', () =>
    expect(make({ uploadUrlExpiry: Duration.hours(2) })).toThrow(/uploadUrlExpiry must be between/));
  test('fails if a budget is not positive', () =>
    expect(make({ dailyBudgetsUsd: { planner: 0 } })).toThrow(/dailyBudgetsUsd\["planner"\] must be between 0.01 and 1000000 USD \(got 0 USD\)/));
  test('fails if a budget names an invalid agent', () =>
    expect(make({ dailyBudgetsUsd: { 'bad agent': 5 } })).toThrow(/dailyBudgetsUsd "bad agent" is invalid/));
  test('fails if Cognito authorization lists no user pool (CloudFormation refuses ProviderARNs: [])', () => {
    expect(() => JobApiAuthorization.cognito({ userPools: [] })).toThrow(
      /JobApiAuthorization.cognito: userPools must list 1 to 1000 user pools \(got 0\)/,
    );
  });
  test('fails if the web ACL ARN is not a regional WAF v2 ARN', () =>
    expect(make({ webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/y' })).toThrow(
      /webAclArn .* is invalid: give the ARN of a REGIONAL-scope/,
    ));
  test("fails if the handlers' settings would not fit one SSM standard parameter", () => {
    const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`agent-number-${i}`, 10]));
    expect(make({ dailyBudgetsUsd: many })).toThrow(/settings would be about \d+ bytes, over the 4096 of one SSM standard parameter/);
  });
  test('fails if the stage name is invalid', () => expect(make({ stageName: 'v 1' })).toThrow(/stageName "v 1" is invalid/));
});

describe('JobApi stage logging and the account-level CloudWatch role', () => {
  function stageOf(over: Record<string, unknown>) {
    const { stack, store, agents } = fixture('Logging');
    new JobApi(stack, 'Api', { store, workloads: [{ queue: agents }], ...over });
    const t = Template.fromStack(stack);
    const [stage] = Object.values(t.findResources('AWS::ApiGateway::Stage'));
    return { t, stack, stage: stage.Properties, level: stage.Properties.MethodSettings[0].LoggingLevel };
  }

  test('cloudWatchRole: true creates the role and turns on JSON access logs and ERROR execution logs', () => {
    const { t, stage, level } = stageOf({ cloudWatchRole: true });
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    expect(level).toBe('ERROR');
    expect(stage.AccessLogSetting).toEqual({
      DestinationArn: { 'Fn::GetAtt': [expect.stringMatching(/ApiAccessLogs/), 'Arn'] },
      Format: expect.any(String),
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('with the role managed elsewhere, accessLogs and executionLogLevel turn logging on without creating it', () => {
    const { t, stage, level } = stageOf({ accessLogs: true, executionLogLevel: apigateway.MethodLoggingLevel.INFO });
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(level).toBe('INFO');
    expect(stage.AccessLogSetting).toBeDefined();
  });

  test('cloudWatchRole: true with logging explicitly off keeps it off', () => {
    const { stage, level } = stageOf({ cloudWatchRole: true, accessLogs: false, executionLogLevel: apigateway.MethodLoggingLevel.OFF });
    expect(level).toBe('OFF');
    expect(stage.AccessLogSetting).toBeUndefined();
  });

  test('without stage logging the stack is still cdk-nag clean (APIG1/APIG6 acknowledged with a proof)', () => {
    const { stack } = stageOf({});
    expectNagClean(stack);
  });
});

describe('the access log format', () => {
  const { stack, store, agents } = fixture('AccessLogFormat');
  new JobApi(stack, 'Api', { store, workloads: [{ queue: agents }], cloudWatchRole: true });
  const [stage] = Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::Stage'));
  const format: string = stage.Properties.AccessLogSetting.Format;
  /** Variables whose values API Gateway fills from a fixed alphabet (ids, numbers, times, ARNs, enums): never a quote. */
  const FIXED_SHAPE = new Set([
    'requestId',
    'extendedRequestId',
    'requestTime',
    'identity.sourceIp',
    'identity.caller',
    'identity.userArn',
    'identity.apiKeyId',
    'httpMethod',
    'resourcePath',
    'status',
    'protocol',
    'responseLength',
    'responseLatency',
    'integrationLatency',
    'error.responseType',
    'wafResponseCode',
    'authorizer.claims.sub',
    'authorizer.claims.client_id',
  ]);

  /** The line API Gateway writes: `*String` variables are substituted quoted (JSON-escaped), the others verbatim. */
  function line(value: (variable: string) => string): string {
    return format.replace(/\$context\.([A-Za-z_.]+)/g, (_m, v: string) => (v.endsWith('String') ? JSON.stringify(value(v)) : value(v)));
  }

  test('every variable is pre-quoted or of a fixed shape (a free-text value cannot break the line)', () => {
    const variables = [...format.matchAll(/\$context\.([A-Za-z_.]+)/g)].map((m) => m[1]);
    expect(variables.length).toBeGreaterThan(10);
    for (const v of variables) expect(v.endsWith('String') || FIXED_SHAPE.has(v) ? v : `free text: ${v}`).toBe(v);
  });

  test('the line is valid JSON when the error message holds quotes and backslashes', () => {
    const message = 'Invalid request body: expected "workload", got \\"x\\"';
    const parsed = JSON.parse(line((v) => (v.startsWith('error.message') ? message : v === 'status' ? '400' : 'x')));
    expect(parsed.errorMessage).toBe(message);
    expect(parsed.status).toBe('400');
    expect(format).toContain('"errorMessage":$context.error.messageString');
  });
});
