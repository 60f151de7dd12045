import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeNag } from './nag';

/**
 * Grants with explicit actions only. The L2 `grantXxx()` helpers of aws-cdk-lib add wildcard actions
 * (`s3:GetObject*`, `kms:GenerateDataKey*`, …); this library's rule is no `*` actions.
 */

export type KeyUse = 'encrypt' | 'decrypt';

/** KMS for SSE: producers need GenerateDataKey + Decrypt, consumers Decrypt. */
export function grantKey(key: kms.IKey | undefined, grantee: iam.IGrantable, use: KeyUse): iam.Grant | undefined {
  if (!key) return undefined;
  return use === 'encrypt' ? key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt') : key.grant(grantee, 'kms:Decrypt');
}

export function combineGrants(grants: Array<iam.Grant | undefined>): iam.Grant {
  const present = grants.filter((g): g is iam.Grant => g !== undefined);
  return present.reduce((a, b) => a.combine(b));
}

/**
 * Object actions on one key prefix of a bucket. The object ARN must end in `*` (object keys are not known
 * in advance); that one cdk-nag IAM5 finding is acknowledged on the grantee, naming the exact resource.
 */
export function grantObjectPrefix(
  bucket: s3.IBucket,
  grantee: iam.IGrantable,
  prefix: string,
  actions: string[],
  key: kms.IKey | undefined,
  use: KeyUse,
): iam.Grant {
  const objects = bucket.arnForObjects(`${prefix}*`);
  const grant = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [objects] });
  const principal = grantee.grantPrincipal as unknown as IConstruct;
  if (principal?.node && Construct.isConstruct(principal)) {
    // cdk-nag names the bucket as it appears in the grantee's template: `<Id.Arn>` in the same stack, the
    // export's name across stacks. Exports exist only once the app is prepared, so the exact finding is
    // acknowledged when the tree is validated, after references are resolved.
    principal.node.addValidation({
      validate: () => {
        acknowledgeNag(
          principal,
          `AwsSolutions-IAM5[Resource::${nagResourceName(Stack.of(principal).resolve(objects))}]`,
          `Object keys are job ids created at run time; access is confined to the prefix ${prefix} with explicit actions ${actions.join(', ')}.`,
        );
        return [];
      },
    });
  }
  return combineGrants([grant, grantKey(key ?? bucket.encryptionKey, grantee, use)]);
}

/** cdk-nag's string form of a resolved resource: `<Id.Arn>`, an import's export name, or literal text. */
function nagResourceName(resolved: unknown): string {
  if (typeof resolved === 'string') return resolved;
  const o = resolved as Record<string, unknown>;
  if (o['Fn::Join']) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(nagResourceName).join(sep);
  }
  if (o['Fn::GetAtt']) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (o['Fn::ImportValue']) return String(o['Fn::ImportValue']);
  if (o.Ref) return `<${String(o.Ref)}>`;
  return JSON.stringify(resolved);
}
