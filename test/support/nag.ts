/**
 * cdk-nag v3 in tests: run the AwsSolutions and Serverless packs over a scope and expect zero
 * unacknowledged findings; list every acknowledgement so a test can require a proof for each.
 */
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';

export interface NagFinding {
  readonly rule: string;
  readonly path: string;
  readonly description: string;
}

/** Every unacknowledged finding of the AwsSolutions and Serverless packs under `scope`. */
export function nagFindings(scope: IConstruct): NagFinding[] {
  const findings: NagFinding[] = [];
  for (const pack of [new AwsSolutionsChecks(), new ServerlessChecks()]) {
    const report = pack.validateScope(scope);
    for (const v of report.violations) {
      for (const r of v.violatingResources) {
        findings.push({
          rule: v.ruleName,
          path: (r as { constructPath?: string }).constructPath ?? r.resourceLogicalId ?? '',
          description: v.description,
        });
      }
    }
  }
  return findings;
}

/** Readable lines, so a failing expectation shows what to fix. */
export function formatFindings(findings: NagFinding[]): string[] {
  return findings.map((f) => `${f.rule} at ${f.path}: ${f.description}`);
}

export interface Acknowledgement {
  readonly rule: string;
  readonly path: string;
  readonly reason: string;
}

/** Every cdk-nag acknowledgement made in the tree under `scope` (through lib/common/nag.ts). */
export function acknowledgements(scope: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        found.push({ rule: key.replace(/^annotation::/i, ''), path: c.node.path, reason: String(reason) });
      }
    }
  }
  return found;
}

/**
 * The proof behind each acknowledged rule: a Template assertion that shows the compensating control
 * is in place. A rule acknowledged anywhere without an entry here fails the acknowledgement test.
 */
export interface NagProof {
  /** The compensating control, in words. */
  readonly control: string;
  /** Throws unless the template shows the control; `finding` is the `[…]` part of a finding-level id. */
  prove(template: Template, finding?: string): void;
}

const parkingQueuesAreDlqs: NagProof = {
  control: 'the queues without a DLQ are parking queues, which are themselves the DLQ of a dead-letter queue',
  prove: (t) => {
    const queues = t.findResources('AWS::SQS::Queue');
    const dlqTargets = new Set(Object.values(queues).map((q) => JSON.stringify(q.Properties?.RedrivePolicy?.deadLetterTargetArn ?? null)));
    const withoutDlq = Object.entries(queues).filter(([, q]) => !q.Properties?.RedrivePolicy);
    for (const [id] of withoutDlq) {
      if (!dlqTargets.has(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }))) {
        throw new Error(`queue ${id} has no DLQ and is no queue's DLQ`);
      }
    }
    if (withoutDlq.length === 0) throw new Error('no queue without a DLQ, yet SQS3 acknowledged');
  },
};

export const NAG_PROOFS: Record<string, NagProof> = {
  'AwsSolutions-SQS3': parkingQueuesAreDlqs,
  'Serverless-SQSRedrivePolicy': parkingQueuesAreDlqs,
};

NAG_PROOFS['AwsSolutions-S1'] = {
  control: "the only bucket without access logs is the one that receives the other buckets' access logs",
  prove: (t) => {
    const buckets = t.findResources('AWS::S3::Bucket');
    const logTargets = new Set(Object.values(buckets).map((b) => JSON.stringify(b.Properties?.LoggingConfiguration?.DestinationBucketName ?? null)));
    const unlogged = Object.entries(buckets).filter(([, b]) => !b.Properties?.LoggingConfiguration);
    if (unlogged.length === 0) throw new Error('every bucket logs, yet S1 acknowledged');
    for (const [id] of unlogged) {
      if (!logTargets.has(JSON.stringify({ Ref: id }))) throw new Error(`bucket ${id} has no access logs and receives none`);
    }
  },
};

/** Every IAM policy statement in the template. */
export function policyStatements(t: Template): Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/**
 * AwsSolutions-IAM5 is acknowledged per finding (`[Resource::…]`); each kind of finding has its own proof.
 * Add an entry here for a new kind; the first whose pattern matches the finding proves it.
 */
export const IAM5_FINDING_PROOFS: Array<{ pattern: RegExp; control: string; prove: (t: Template, match: RegExpMatchArray) => void }> = [
  {
    // The bucket as cdk-nag names it: `<Id.Arn>` in the same stack, an export's name across stacks.
    pattern: /^Resource::(?:<([A-Za-z0-9]+)\.Arn>|[A-Za-z0-9-]+:ExportsOutput[A-Za-z0-9]+)\/((?:payloads|results)\/(?:[a-z][a-z0-9-]*\/)?)\*$/,
    control: 'S3 object prefixes of one workload (payloads/<workload>/*, results/<workload>/*), explicit actions only',
    prove: (t, [, bucketId, prefix]) => {
      const statements = policyStatements(t).filter(
        (s) =>
          JSON.stringify(s.Resource).includes(`"/${prefix}*"`) && (bucketId === undefined || JSON.stringify(s.Resource).includes(`"${bucketId}"`)),
      );
      if (statements.length === 0) throw new Error(`no statement grants ${prefix}* on ${bucketId ?? 'an imported bucket'}`);
      for (const s of statements) {
        for (const a of [s.Action].flat()) if (a.includes('*')) throw new Error(`wildcard action ${a} on ${prefix}*`);
      }
    },
  },
  {
    pattern: /^Resource::\*$/,
    control:
      'statements on "*" hold only read-only or log-delivery actions that support no resource-level permissions, ' +
      'actions confined by a condition, or ecr:GetAuthorizationToken alone in its statement (the docker login, which ' +
      'grants no image: every other ECR action is on named repositories)',
    prove: (t) => {
      proveEcrLoginIsTheOnlyEcrStar(t);
      const readOnly =
        /^(ec2:Describe[A-Za-z]+|autoscaling:Describe[A-Za-z]+|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|DescribeLogGroups|DescribeResourcePolicies|PutResourcePolicy)|cloudwatch:(GetMetricData|ListMetrics)|xray:(PutTraceSegments|PutTelemetryRecords))$/;
      for (const s of policyStatements(t).filter((x) => [x.Resource].flat().includes('*'))) {
        for (const a of [s.Action].flat()) {
          if (a.includes('*')) throw new Error(`wildcard action ${a} on *`);
          if (a === 'ecr:GetAuthorizationToken') continue;
          if (!readOnly.test(a) && !s.Condition) throw new Error(`unconditioned action ${a} on *`);
        }
      }
    },
  },
  {
    pattern: /^Resource::arn:<AWS::Partition>:ec2:(?:<AWS::Region>|[a-z0-9-]+):(?:<AWS::AccountId>|\d{12}):instance\/\*$/,
    control: 'actions on any instance ARN are conditioned on the workload or group tag',
    prove: (t) => {
      const onInstances = policyStatements(t).filter((s) => JSON.stringify(s.Resource).includes(':instance/*'));
      if (onInstances.length === 0) throw new Error('no statement on instance/*');
      for (const s of onInstances)
        if (!JSON.stringify(s.Condition ?? {}).includes('aws:ResourceTag/')) throw new Error('instance/* statement without a tag condition');
    },
  },
];

/**
 * ecr:GetAuthorizationToken supports only "*": it must stand alone in its statement, and no other ECR action may be
 * on "*" or on a repository wildcard other than none (pulls name their repository).
 */
export function proveEcrLoginIsTheOnlyEcrStar(t: Template): void {
  for (const s of policyStatements(t)) {
    const actions = [s.Action].flat();
    const ecr = actions.filter((a) => a.startsWith('ecr:'));
    if (ecr.length === 0) continue;
    const resources = [s.Resource].flat();
    if (ecr.includes('ecr:GetAuthorizationToken')) {
      if (actions.length !== 1 || JSON.stringify(resources) !== '["*"]') {
        throw new Error(`ecr:GetAuthorizationToken shares its statement: ${JSON.stringify(s)}`);
      }
      continue;
    }
    for (const r of resources) {
      const text = JSON.stringify(r);
      if (r === '*' || !text.includes(':repository/') || /:repository\/[^"]*\*/.test(text)) {
        throw new Error(`ECR actions ${ecr.join(', ')} on ${text}: not one named repository`);
      }
    }
  }
}

NAG_PROOFS['AwsSolutions-IAM5'] = {
  control: 'each wildcard-resource finding matches a kind in IAM5_FINDING_PROOFS and passes its proof',
  prove: (t, finding) => {
    const entry = IAM5_FINDING_PROOFS.map((e) => ({ e, m: finding?.match(e.pattern) })).find((x) => x.m);
    if (!entry) throw new Error(`IAM5 finding ${finding} has no proof in IAM5_FINDING_PROOFS (test/support/nag.ts)`);
    entry.e.prove(t, entry.m!);
  },
};

/** Logical id of a Lambda function referenced as `{Fn::GetAtt: [id, 'Arn']}` or `{Ref: id}`, else undefined. */
function functionIdOf(ref: unknown): string | undefined {
  const r = ref as { 'Fn::GetAtt'?: [string, string]; Ref?: string } | undefined;
  return r?.['Fn::GetAtt']?.[0] ?? r?.Ref;
}

/** True when an alarm in the template watches the function's AWS/Lambda Errors metric. */
export function hasErrorsAlarm(t: Template, functionId: string): boolean {
  return Object.values(t.findResources('AWS::CloudWatch::Alarm')).some((a) => {
    const p = a.Properties ?? {};
    const stats = [p, ...(p.Metrics ?? []).map((m: any) => m.MetricStat?.Metric ?? {})];
    return stats.some(
      (m: any) =>
        m.Namespace === 'AWS/Lambda' &&
        m.MetricName === 'Errors' &&
        (m.Dimensions ?? []).some((d: any) => d.Name === 'FunctionName' && functionIdOf(d.Value) === functionId),
    );
  });
}

/** True when only EventBridge schedule rules invoke the function (no event source mapping, no other principal). */
export function invokedOnlyBySchedules(t: Template, functionId: string): boolean {
  const rules = t.findResources('AWS::Events::Rule');
  const scheduleRuleIds = new Set(
    Object.entries(rules)
      .filter(([, r]) => r.Properties?.ScheduleExpression && !r.Properties?.EventPattern)
      .map(([id]) => id),
  );
  const targeting = Object.entries(rules).filter(([, r]) => (r.Properties?.Targets ?? []).some((x: any) => functionIdOf(x.Arn) === functionId));
  if (targeting.length === 0 || targeting.some(([id]) => !scheduleRuleIds.has(id))) return false;
  const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).filter(
    (m) => functionIdOf(m.Properties?.FunctionName) === functionId,
  );
  if (mappings.length > 0) return false;
  return Object.values(t.findResources('AWS::Lambda::Permission'))
    .filter((p) => functionIdOf(p.Properties?.FunctionName) === functionId)
    .every((p) => p.Properties?.Principal === 'events.amazonaws.com' && scheduleRuleIds.has(functionIdOf(p.Properties?.SourceArn) ?? ''));
}

/**
 * Kinds of Lambda function that may run without a dead-letter queue or async failure destination. Add a
 * kind (with its control) for a new one; every function without a DLQ must match one.
 */
export const NO_DLQ_FUNCTION_KINDS: Array<{ control: string; matches: (t: Template, functionId: string) => boolean }> = [
  {
    control: 'invoked only by EventBridge schedule rules (a failed tick is replaced by the next) and watched by an alarm on its Errors metric',
    matches: (t, id) => invokedOnlyBySchedules(t, id) && hasErrorsAlarm(t, id),
  },
];

function proveFunctionsWithoutDlq(t: Template, functionIds: string[], what: string): void {
  if (functionIds.length === 0) throw new Error(`no function ${what}, yet the rule is acknowledged`);
  for (const id of functionIds) {
    if (!NO_DLQ_FUNCTION_KINDS.some((k) => k.matches(t, id))) {
      throw new Error(`function ${id} ${what} matches no kind in NO_DLQ_FUNCTION_KINDS (test/support/nag.ts)`);
    }
  }
}

NAG_PROOFS['Serverless-LambdaDLQ'] = {
  control: 'every function without a dead-letter queue matches a kind in NO_DLQ_FUNCTION_KINDS',
  prove: (t) => {
    const ids = Object.entries(t.findResources('AWS::Lambda::Function'))
      .filter(([, f]) => !f.Properties?.DeadLetterConfig?.TargetArn)
      .map(([id]) => id);
    proveFunctionsWithoutDlq(t, ids, 'without a dead-letter queue');
  },
};

NAG_PROOFS['Serverless-LambdaAsyncFailureDestination'] = {
  control: 'every async invoke config without an on-failure destination belongs to a function matching a kind in NO_DLQ_FUNCTION_KINDS',
  prove: (t) => {
    const ids = Object.values(t.findResources('AWS::Lambda::EventInvokeConfig'))
      .filter((c) => !c.Properties?.DestinationConfig?.OnFailure?.Destination)
      .map((c) => functionIdOf(c.Properties?.FunctionName) ?? String(c.Properties?.FunctionName));
    proveFunctionsWithoutDlq(t, ids, 'with an async invoke config but no on-failure destination');
  },
};

NAG_PROOFS['Serverless-EventBusDLQ'] = {
  control: 'every EventBridge target without a DLQ is a Lambda function on a schedule rule matching a kind in NO_DLQ_FUNCTION_KINDS',
  prove: (t) => {
    const ids: string[] = [];
    for (const [ruleId, r] of Object.entries(t.findResources('AWS::Events::Rule'))) {
      for (const target of r.Properties?.Targets ?? []) {
        if (target.DeadLetterConfig) continue;
        if (!r.Properties?.ScheduleExpression) throw new Error(`rule ${ruleId} is not a schedule and has a target without a DLQ`);
        const id = functionIdOf(target.Arn);
        if (!id) throw new Error(`rule ${ruleId} has a non-Lambda target without a DLQ`);
        ids.push(id);
      }
    }
    proveFunctionsWithoutDlq(t, ids, 'targeted without a DLQ');
  },
};

// ---- compute (GpuFleet, CapacityManager) ----

IAM5_FINDING_PROOFS.push({
  pattern:
    /^Resource::arn:<AWS::Partition>:autoscaling:(?:<AWS::Region>|[a-z0-9-]+):(?:<AWS::AccountId>|\d{12}):autoScalingGroup:\*:autoScalingGroupName\/.+$/,
  control:
    'Auto Scaling group ARNs whose only wildcard is the group id (pinned by name), with explicit write actions on ' +
    'the group only; tag writes are confined to named tag keys',
  prove: (t) => {
    const allowed = new Set([
      'autoscaling:SetInstanceProtection',
      // A failed boot (and the worker, for a lost model server) marks its own instance unhealthy.
      'autoscaling:SetInstanceHealth',
      'autoscaling:SetDesiredCapacity',
      'autoscaling:CreateOrUpdateTags',
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ]);
    const onGroups = policyStatements(t).filter((s) => JSON.stringify(s.Resource).includes(':autoScalingGroup:*:autoScalingGroupName/'));
    if (onGroups.length === 0) throw new Error('no statement on an autoScalingGroup:*:autoScalingGroupName/ ARN');
    for (const s of onGroups) {
      for (const a of [s.Action].flat()) {
        if (!allowed.has(a)) throw new Error(`action ${a} on a group ARN is not in the allowed set`);
        if (a === 'autoscaling:CreateOrUpdateTags' && !JSON.stringify(s.Condition ?? {}).includes('aws:TagKeys')) {
          throw new Error('CreateOrUpdateTags on a group without an aws:TagKeys condition');
        }
      }
    }
  },
});

/** AwsSolutions-IAM4 is acknowledged per managed policy; each allowed policy has its own proof. */
export const IAM4_FINDING_PROOFS: Array<{ pattern: RegExp; control: string; prove: (t: Template) => void }> = [
  {
    pattern: /^Policy::arn:<AWS::Partition>:iam::aws:policy\/AmazonSSMManagedInstanceCore$/,
    control:
      'Session Manager replaces SSH: roles with AmazonSSMManagedInstanceCore are EC2 instance roles whose launch templates ' +
      'have no key pair and whose security groups allow no inbound traffic',
    prove: (t) => {
      const roles = Object.entries(t.findResources('AWS::IAM::Role')).filter(([, r]) =>
        JSON.stringify(r.Properties?.ManagedPolicyArns ?? []).includes('AmazonSSMManagedInstanceCore'),
      );
      if (roles.length === 0) throw new Error('no role has AmazonSSMManagedInstanceCore');
      for (const [id, r] of roles) {
        if (
          JSON.stringify(r.Properties.AssumeRolePolicyDocument) !==
          JSON.stringify({
            Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } }],
            Version: '2012-10-17',
          })
        )
          throw new Error(`role ${id} with AmazonSSMManagedInstanceCore is not an EC2-only role`);
      }
      const templates = Object.values(t.findResources('AWS::EC2::LaunchTemplate'));
      const groups = t.findResources('AWS::EC2::SecurityGroup');
      for (const lt of templates) {
        const data = lt.Properties.LaunchTemplateData;
        if (data.KeyName) throw new Error('a launch template has a key pair');
        const sgIds = [...(data.SecurityGroupIds ?? []), ...(data.NetworkInterfaces ?? []).flatMap((n: any) => n.Groups ?? [])]
          .map((g: any) => g['Fn::GetAtt']?.[0])
          .filter(Boolean);
        for (const sg of sgIds) {
          if ((groups[sg]?.Properties?.SecurityGroupIngress ?? []).length > 0) throw new Error(`security group ${sg} allows inbound traffic`);
          const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).filter(
            (i) => i.Properties?.GroupId?.['Fn::GetAtt']?.[0] === sg,
          );
          if (ingress.length > 0) throw new Error(`security group ${sg} has an ingress rule`);
        }
      }
    },
  },
];

NAG_PROOFS['AwsSolutions-IAM4'] = {
  control: 'each AWS managed policy finding matches a kind in IAM4_FINDING_PROOFS and passes its proof',
  prove: (t, finding) => {
    const entry = IAM4_FINDING_PROOFS.find((e) => finding !== undefined && e.pattern.test(finding));
    if (!entry) throw new Error(`IAM4 finding ${finding} has no proof in IAM4_FINDING_PROOFS (test/support/nag.ts)`);
    entry.prove(t);
  },
};

NAG_PROOFS['AwsSolutions-EC26'] = {
  control: 'every Auto Scaling group launches from a launch template (no launch configuration) whose every block device is encrypted',
  prove: (t) => {
    const groups = Object.entries(t.findResources('AWS::AutoScaling::AutoScalingGroup'));
    if (groups.length === 0) throw new Error('no Auto Scaling group, yet EC26 acknowledged');
    const templates = t.findResources('AWS::EC2::LaunchTemplate');
    for (const [id, g] of groups) {
      const p = g.Properties;
      if (p.LaunchConfigurationName) throw new Error(`group ${id} uses a launch configuration`);
      const ref = p.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification ?? p.LaunchTemplate;
      const ltId = ref?.LaunchTemplateId?.Ref;
      const devices = templates[ltId]?.Properties?.LaunchTemplateData?.BlockDeviceMappings ?? [];
      if (devices.length === 0) throw new Error(`group ${id}: launch template ${ltId} declares no block devices`);
      for (const d of devices) if (d.Ebs?.Encrypted !== true) throw new Error(`group ${id}: volume ${d.DeviceName} is not encrypted`);
    }
  },
};

// ---- orchestration (InterruptionDrainer, RetryHandler) ----

/** Logical id of a queue referenced as `{Fn::GetAtt: [id, 'Arn']}`, else undefined. */
function queueIdOfArn(ref: unknown): string | undefined {
  return (ref as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
}

/**
 * Kinds of SQS queue that may have no dead-letter queue of their own: last stops, which are themselves
 * where failures end up. Add a kind (with its control) for a new one; every queue without a redrive
 * policy must match one. (Extends the parking-queue proof above; both rules share it.)
 */
export const LAST_STOP_QUEUE_KINDS: Array<{ control: string; matches: (t: Template, queueId: string) => boolean }> = [
  {
    control: 'the dead-letter queue of another queue (a parking queue)',
    matches: (t, id) =>
      Object.values(t.findResources('AWS::SQS::Queue')).some((q) => queueIdOfArn(q.Properties?.RedrivePolicy?.deadLetterTargetArn) === id),
  },
  {
    control: "the dead-letter queue of EventBridge rule targets and/or of a function's asynchronous invocations, and nothing else",
    matches: (t, id) => {
      const ruleDlq = Object.values(t.findResources('AWS::Events::Rule')).some((r) =>
        (r.Properties?.Targets ?? []).some((x: any) => queueIdOfArn(x.DeadLetterConfig?.Arn) === id),
      );
      const lambdaDlq = Object.values(t.findResources('AWS::Lambda::Function')).some(
        (f) => queueIdOfArn(f.Properties?.DeadLetterConfig?.TargetArn) === id,
      );
      const consumed = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).some(
        (m) => queueIdOfArn(m.Properties?.EventSourceArn) === id,
      );
      return (ruleDlq || lambdaDlq) && !consumed;
    },
  },
];

const lastStopQueues: NagProof = {
  control: 'every queue without a DLQ matches a kind in LAST_STOP_QUEUE_KINDS (a parking queue, an event/async-invocation DLQ)',
  prove: (t) => {
    const withoutDlq = Object.entries(t.findResources('AWS::SQS::Queue')).filter(([, q]) => !q.Properties?.RedrivePolicy);
    if (withoutDlq.length === 0) throw new Error('no queue without a DLQ, yet the rule is acknowledged');
    for (const [id] of withoutDlq) {
      if (!LAST_STOP_QUEUE_KINDS.some((k) => k.matches(t, id)))
        throw new Error(`queue ${id} has no DLQ and matches no kind in LAST_STOP_QUEUE_KINDS`);
    }
  },
};
NAG_PROOFS['AwsSolutions-SQS3'] = lastStopQueues;
NAG_PROOFS['Serverless-SQSRedrivePolicy'] = lastStopQueues;

/** SQS event source mappings of a function, with their source queues' logical ids. */
function sqsSourcesOf(t: Template, functionId: string): Array<string | undefined> {
  return Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))
    .filter((m) => functionIdOf(m.Properties?.FunctionName) === functionId)
    .map((m) => queueIdOfArn(m.Properties?.EventSourceArn));
}

function hasRedrivePolicy(t: Template, queueId: string | undefined): boolean {
  return queueId !== undefined && t.findResources('AWS::SQS::Queue')[queueId]?.Properties?.RedrivePolicy !== undefined;
}

function invokePermissions(t: Template, functionId: string) {
  return Object.values(t.findResources('AWS::Lambda::Permission')).filter((p) => functionIdOf(p.Properties?.FunctionName) === functionId);
}

function targetedByRules(t: Template, functionId: string): boolean {
  return Object.values(t.findResources('AWS::Events::Rule')).some((r) =>
    (r.Properties?.Targets ?? []).some((x: any) => functionIdOf(x.Arn) === functionId),
  );
}

NO_DLQ_FUNCTION_KINDS.push(
  {
    control:
      'invoked only by SQS event source mappings (synchronously) whose source queues have a redrive policy: a failed ' +
      "message goes back to its queue and, after maxReceiveCount, to that queue's DLQ",
    matches: (t, id) => {
      const queues = sqsSourcesOf(t, id);
      return queues.length > 0 && queues.every((q) => hasRedrivePolicy(t, q)) && invokePermissions(t, id).length === 0 && !targetedByRules(t, id);
    },
  },
  {
    control:
      'invoked by no AWS service at all (no event source, no rule, no resource-based permission): only principals granted ' +
      'lambda:InvokeFunction call it, synchronously, and read its result',
    matches: (t, id) => sqsSourcesOf(t, id).length === 0 && invokePermissions(t, id).length === 0 && !targetedByRules(t, id),
  },
);

NAG_PROOFS['Serverless-LambdaEventSourceMappingDestination'] = {
  control:
    'every event source mapping without an on-failure destination reads an SQS queue that has its own redrive policy ' +
    '(SQS sources take no on-failure destination)',
  prove: (t) => {
    const mappings = Object.entries(t.findResources('AWS::Lambda::EventSourceMapping')).filter(
      ([, m]) => !m.Properties?.DestinationConfig?.OnFailure,
    );
    if (mappings.length === 0) throw new Error('every mapping has a destination, yet the rule is acknowledged');
    for (const [id, m] of mappings) {
      if (!hasRedrivePolicy(t, queueIdOfArn(m.Properties?.EventSourceArn))) throw new Error(`mapping ${id} reads no queue with a redrive policy`);
    }
  },
};

// ---- api (JobApi) ----

/** True when API Gateway is the function's only invoker (proxy integrations: synchronous, the caller gets the error). */
export function invokedOnlyByApiGateway(t: Template, functionId: string): boolean {
  const mine = (type: string, prop: (p: any) => unknown) =>
    Object.values(t.findResources(type)).filter((r) => functionIdOf(prop(r.Properties ?? {})) === functionId);
  const permissions = mine('AWS::Lambda::Permission', (p) => p.FunctionName);
  if (permissions.length === 0 || permissions.some((p) => p.Properties?.Principal !== 'apigateway.amazonaws.com')) return false;
  if (mine('AWS::Lambda::EventSourceMapping', (p) => p.FunctionName).length > 0) return false;
  if (mine('AWS::Lambda::EventInvokeConfig', (p) => p.FunctionName).length > 0) return false;
  return !Object.values(t.findResources('AWS::Events::Rule')).some((r) =>
    (r.Properties?.Targets ?? []).some((x: any) => functionIdOf(x.Arn) === functionId),
  );
}

NO_DLQ_FUNCTION_KINDS.push({
  control: 'invoked only synchronously by API Gateway proxy integrations (no event source, async config or rule): the caller receives the failure',
  matches: invokedOnlyByApiGateway,
});

/** Methods of a REST API by its logical id (OPTIONS excluded). */
function methodsOf(t: Template, restApiId: string) {
  return Object.entries(t.findResources('AWS::ApiGateway::Method')).filter(
    ([, m]) => m.Properties?.RestApiId?.Ref === restApiId && m.Properties?.HttpMethod !== 'OPTIONS',
  );
}

NAG_PROOFS['AwsSolutions-APIG3'] = {
  control:
    'a stage without a WAF web ACL serves only methods with IAM or Cognito authorization, each checked by a request ' +
    'validator that validates body and parameters, and the stage throttles every method',
  prove: (t) => {
    const associations = JSON.stringify(t.findResources('AWS::WAFv2::WebACLAssociation'));
    const validators = t.findResources('AWS::ApiGateway::RequestValidator');
    const unprotected = Object.entries(t.findResources('AWS::ApiGateway::Stage')).filter(([id]) => !associations.includes(`"${id}"`));
    if (unprotected.length === 0) throw new Error('every stage has a web ACL, yet APIG3 acknowledged');
    for (const [id, stage] of unprotected) {
      const throttled = (stage.Properties.MethodSettings ?? []).some(
        (s: any) => s.HttpMethod === '*' && s.ResourcePath === '/*' && s.ThrottlingRateLimit > 0 && s.ThrottlingBurstLimit > 0,
      );
      if (!throttled) throw new Error(`stage ${id} has no stage-wide throttling`);
      const methods = methodsOf(t, stage.Properties.RestApiId.Ref);
      if (methods.length === 0) throw new Error(`stage ${id} has no methods`);
      for (const [mid, m] of methods) {
        if (!['AWS_IAM', 'COGNITO_USER_POOLS'].includes(m.Properties.AuthorizationType))
          throw new Error(`method ${mid} is not IAM or Cognito authorized`);
        const v = validators[m.Properties.RequestValidatorId?.Ref]?.Properties;
        if (v?.ValidateRequestBody !== true || v?.ValidateRequestParameters !== true)
          throw new Error(`method ${mid} has no body+parameter validator`);
      }
    }
  },
};

/** Stages with a stage-logging gap: no AWS::ApiGateway::Account in the template, metrics and X-Ray on, Lambdas logging. */
function proveStageLoggingNeedsAccountRole(t: Template, lacks: (stage: any) => boolean, what: string): void {
  const stages = Object.entries(t.findResources('AWS::ApiGateway::Stage')).filter(([, s]) => lacks(s.Properties));
  if (stages.length === 0) throw new Error(`every stage has ${what}, yet the rule is acknowledged`);
  if (Object.keys(t.findResources('AWS::ApiGateway::Account')).length > 0)
    throw new Error(`the account role is created here, yet a stage has no ${what}`);
  for (const [id, stage] of stages) {
    if (stage.Properties.TracingEnabled !== true) throw new Error(`stage ${id} has no X-Ray tracing`);
    if (!(stage.Properties.MethodSettings ?? []).some((m: any) => m.MetricsEnabled === true)) throw new Error(`stage ${id} publishes no metrics`);
  }
  const functions = t.findResources('AWS::Lambda::Function');
  const integrations = Object.values(t.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com' } })).map(
    (p) => p.Properties.FunctionName?.['Fn::GetAtt']?.[0] as string,
  );
  if (integrations.length === 0) throw new Error('no Lambda is invoked by API Gateway');
  for (const id of integrations) {
    if (functions[id]?.Properties.LoggingConfig?.LogGroup === undefined) throw new Error(`integration function ${id} logs to no group of its own`);
  }
}

NAG_PROOFS['AwsSolutions-APIG1'] = {
  control:
    'access logs are off only where this template does not create the account-level API Gateway CloudWatch role (without it the ' +
    'stage cannot deploy); such a stage publishes metrics and X-Ray traces and its Lambdas log to their own groups',
  prove: (t) => proveStageLoggingNeedsAccountRole(t, (p) => p.AccessLogSetting === undefined, 'access logs'),
};

NAG_PROOFS['AwsSolutions-APIG6'] = {
  control:
    'execution logs are off only where this template does not create the account-level API Gateway CloudWatch role (without it ' +
    'the stage cannot deploy); such a stage publishes metrics and X-Ray traces and its Lambdas log to their own groups',
  prove: (t) =>
    proveStageLoggingNeedsAccountRole(
      t,
      (p) => !(p.MethodSettings ?? []).some((m: any) => ['ERROR', 'INFO'].includes(m.LoggingLevel)),
      'execution logs',
    ),
};

NAG_PROOFS['Serverless-APIGWAccessLogging'] = NAG_PROOFS['AwsSolutions-APIG1'];

NAG_PROOFS['Serverless-APIGWStructuredLogging'] = {
  control:
    'the access log format is one JSON object per line; it only looks unparseable to the rule because the pre-quoted ' +
    '$context.error.messageString (a JSON string once API Gateway substitutes it) stands unquoted',
  prove: (t) => {
    const formats = Object.values(t.findResources('AWS::ApiGateway::Stage'))
      .map((s) => s.Properties.AccessLogSetting?.Format)
      .filter(Boolean);
    if (formats.length === 0) throw new Error('no stage has access logs, yet APIGWStructuredLogging acknowledged');
    for (const f of formats) {
      if (!String(f).includes(':$context.error.messageString')) throw new Error(`format ${f} has no unquoted messageString`);
      const parsed = JSON.parse(String(f).replace(/\$context\.[A-Za-z_.]+String/g, '"x"'));
      if (typeof parsed !== 'object' || parsed === null) throw new Error(`format ${f} is not a JSON object`);
    }
  },
};

NAG_PROOFS['AwsSolutions-COG4'] = {
  control: 'every method that does not use a Cognito user pool authorizer uses AWS IAM (SigV4) authorization',
  prove: (t) => {
    const methods = Object.entries(t.findResources('AWS::ApiGateway::Method')).filter(([, m]) => m.Properties?.HttpMethod !== 'OPTIONS');
    const iamOnes = methods.filter(([, m]) => m.Properties.AuthorizationType !== 'COGNITO_USER_POOLS');
    if (iamOnes.length === 0) throw new Error('every method uses Cognito, yet COG4 acknowledged');
    for (const [id, m] of iamOnes)
      if (m.Properties.AuthorizationType !== 'AWS_IAM') throw new Error(`method ${id} uses ${m.Properties.AuthorizationType}`);
  },
};

IAM5_FINDING_PROOFS.push({
  pattern: /^Resource::arn:<AWS::Partition>:execute-api:[^:]+:[^:]+:<[A-Za-z0-9]+>\/[A-Za-z0-9_-]+\/(?:GET|DELETE)\/jobs\/\*$/,
  control: 'execute-api:Invoke on one method of one stage of the job API; the wildcard is the job id in the path',
  prove: (t) => {
    const onApi = policyStatements(t).filter((s) => JSON.stringify(s.Resource).includes(':execute-api:'));
    if (onApi.length === 0) throw new Error('no statement on an execute-api ARN');
    for (const s of onApi) {
      for (const a of [s.Action].flat()) if (a !== 'execute-api:Invoke') throw new Error(`action ${a} on an execute-api ARN`);
      if (!/\/(POST|GET|DELETE)\/jobs(\/\*)?"/.test(JSON.stringify(s.Resource)))
        throw new Error(`execute-api resource ${JSON.stringify(s.Resource)} is not one job route`);
    }
  },
});

IAM4_FINDING_PROOFS.push({
  pattern: /^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/AmazonAPIGatewayPushToCloudWatchLogs$/,
  control:
    'the policy is attached only to roles that API Gateway alone can assume (the account-level execution-log role), with nothing else attached',
  prove: (t) => {
    const roles = Object.entries(t.findResources('AWS::IAM::Role')).filter(([, r]) =>
      JSON.stringify(r.Properties?.ManagedPolicyArns ?? []).includes('AmazonAPIGatewayPushToCloudWatchLogs'),
    );
    if (roles.length === 0) throw new Error('no role has AmazonAPIGatewayPushToCloudWatchLogs');
    const attached = JSON.stringify(Object.values(t.findResources('AWS::IAM::Policy')).map((p) => p.Properties.Roles));
    for (const [id, r] of roles) {
      const principals = (r.Properties.AssumeRolePolicyDocument.Statement ?? []).map((s: any) => s.Principal?.Service);
      if (JSON.stringify(principals) !== JSON.stringify(['apigateway.amazonaws.com']))
        throw new Error(`role ${id} is assumable by ${JSON.stringify(principals)}`);
      if (r.Properties.Policies || r.Properties.ManagedPolicyArns.length !== 1 || attached.includes(`"${id}"`))
        throw new Error(`role ${id} has other policies`);
    }
  },
});

// A bucket of another region (a GPU layer placed away from its platform) appears by its literal,
// CDK-generated name: `arn:<AWS::Partition>:s3:::<name>/payloads/<workload>/*`.
IAM5_FINDING_PROOFS.push({
  pattern: /^Resource::arn:<AWS::Partition>:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/((?:payloads|results)\/(?:[a-z][a-z0-9-]*\/)?)\*$/,
  control: 'S3 object prefixes of one workload on a bucket named literally (another region), explicit actions only',
  prove: (t, [, bucketName, prefix]) => {
    const statements = policyStatements(t).filter((s) => JSON.stringify(s.Resource).includes(`:s3:::${bucketName}/${prefix}*"`));
    if (statements.length === 0) throw new Error(`no statement grants ${prefix}* on bucket ${bucketName}`);
    for (const s of statements) {
      for (const a of [s.Action].flat()) if (a.includes('*')) throw new Error(`wildcard action ${a} on ${bucketName}/${prefix}*`);
    }
  },
});

// Model weights (ModelWeights.fromBucket): objects under one prefix, read only, listing confined to it.
IAM5_FINDING_PROOFS.push({
  pattern:
    /^Resource::(?:<([A-Za-z0-9]+)\.Arn>|arn:<AWS::Partition>:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9]))\/((?!payloads\/|results\/)[^*?\s]+)\/\*$/,
  control: 'model weights: s3:GetObject alone on the objects under one prefix, and s3:ListBucket on that bucket confined to the prefix',
  prove: (t, [, bucketId, bucketName, prefix]) => {
    const bucket = bucketId ? `"${bucketId}"` : `:s3:::${bucketName}`;
    const onPrefix = policyStatements(t).filter(
      (s) => JSON.stringify(s.Resource).includes(`/${prefix}/*"`) && JSON.stringify(s.Resource).includes(bucket),
    );
    if (onPrefix.length === 0) throw new Error(`no statement on ${prefix}/*`);
    for (const s of onPrefix) {
      if (JSON.stringify([s.Action].flat()) !== '["s3:GetObject"]')
        throw new Error(`${prefix}/* grants ${JSON.stringify(s.Action)}, not s3:GetObject alone`);
    }
    const confined = policyStatements(t).filter(
      (s) =>
        JSON.stringify([s.Action].flat()) === '["s3:ListBucket"]' &&
        JSON.stringify(s.Resource).includes(bucket) &&
        JSON.stringify((s.Condition as any)?.StringLike?.['s3:prefix']) === JSON.stringify([`${prefix}/*`]),
    );
    if (confined.length === 0) throw new Error(`no s3:ListBucket on ${bucket} confined to ${prefix}/*`);
  },
});
