/**
 * Where moto 5.2 falls short of CloudFormation, and the one minimal change the deploy test makes to a *copy* of
 * the synthesized template for each (the library and the synthesized assembly stay untouched). Each entry says
 * what moto does and why the change cannot hide a library bug.
 */
import { CfnTemplate } from './cloud-assembly';

/**
 * Resource types of the example app that moto's CloudFormation accepts but does not create (it logs "No Moto
 * CloudFormation support" and moves on): the deploy test cannot observe these, and the README says so.
 */
export const MOTO_SKIPPED_TYPES: readonly string[] = [
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::ApiGateway::Model',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::Stage',
  'AWS::AutoScaling::LifecycleHook',
  'AWS::CDK::Metadata',
  'AWS::CloudWatch::Alarm',
  'AWS::FIS::ExperimentTemplate',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
];

/** A public AMI parameter moto ships (the GPU AMI only matters on a real instance). */
export const MOTO_AMI_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64';

export interface Workaround {
  readonly what: string;
  readonly why: string;
  /** Logical ids (or parameter names) changed in this template. */
  readonly changed: string[];
}

/** A deep copy of `template` that moto deploys, and the list of what was changed and why. */
export function adaptForMoto(template: CfnTemplate): { template: CfnTemplate; workarounds: Workaround[] } {
  const t = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const amis: Workaround = {
    what: `AMI parameters (AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>) default to ${MOTO_AMI_PARAMETER}`,
    why:
      "moto resolves every SSM-typed parameter's Default from its own store even when a value is passed, lacks the Deep Learning " +
      'AMI parameter and refuses PutParameter under /aws/; no instance boots in moto, so which image id it records does not matter',
    changed: [],
  };
  for (const [name, p] of Object.entries(t.Parameters ?? {})) {
    if (p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>' && p.Default !== MOTO_AMI_PARAMETER) {
      p.Default = MOTO_AMI_PARAMETER;
      amis.changed.push(name);
    }
  }

  const skipped = new Set(
    Object.entries(t.Resources)
      .filter(([, r]) => MOTO_SKIPPED_TYPES.includes(r.Type))
      .map(([id]) => id),
  );
  const getAtts: Workaround = {
    what:
      'Fn::GetAtt of a resource moto skips (alarm ARNs in the dashboard body, FIS template ids in outputs) becomes the string ' +
      '"moto-skipped:<LogicalId>.<Attribute>"',
    why:
      'moto fails the whole stack ("Fn::GetAtt references undefined resource") on an attribute of a resource it did not create; ' +
      'only dashboard text and outputs read these attributes, never a resource the test drives',
    changed: [],
  };
  const replace = (node: unknown, owner: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => replace(n, owner));
    if (node === null || typeof node !== 'object') return node;
    const o = node as Record<string, unknown>;
    const att = o['Fn::GetAtt'];
    if (Array.isArray(att) && skipped.has(String(att[0]))) {
      if (!getAtts.changed.includes(owner)) getAtts.changed.push(owner);
      return `moto-skipped:${att.join('.')}`;
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, replace(v, owner)]));
  };
  for (const [id, r] of Object.entries(t.Resources)) t.Resources[id] = replace(r, id) as typeof r;
  for (const [id, o] of Object.entries(t.Outputs ?? {})) t.Outputs![id] = replace(o, `Outputs.${id}`) as typeof o;

  const kmsTags: Workaround = {
    what: 'AWS::KMS::Key Tags are written as { TagKey, TagValue }',
    why:
      "moto's KMS model passes CloudFormation's { Key, Value } tags to its TagResource code, which reads the KMS API's TagKey/TagValue " +
      'and fails with KeyError; the tags keep their keys and values',
    changed: [],
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::KMS::Key' || !Array.isArray(r.Properties?.Tags)) continue;
    r.Properties.Tags = r.Properties.Tags.map((tag: { Key: unknown; Value: unknown }) => ({ TagKey: tag.Key, TagValue: tag.Value }));
    kmsTags.changed.push(id);
  }

  const ssmParameters: Workaround = {
    what: 'AWS::SSM::Parameter without a Name gets /moto/<LogicalId>; its Tags map is written as [{ Key, Value }]',
    why:
      "moto's SSM model does not generate a name when the template gives none (CloudFormation does: AttributeError on None) and " +
      "iterates the Tags map as a list (TypeError); Ref still returns the parameter's name, so handlers find the parameter by the " +
      'name CloudFormation passed them, and the value is untouched',
    changed: [],
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::SSM::Parameter') continue;
    r.Properties ??= {};
    if (r.Properties.Name === undefined) r.Properties.Name = `/moto/${id}`;
    const tags = r.Properties.Tags;
    if (tags && !Array.isArray(tags)) r.Properties.Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    ssmParameters.changed.push(id);
  }
  return { template: t, workarounds: [amis, getAtts, kmsTags, ssmParameters].filter((w) => w.changed.length > 0) };
}
