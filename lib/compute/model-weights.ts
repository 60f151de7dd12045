import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNag } from '../common/nag';
import { propError } from '../common/validate';
import { nagSpelling } from './capacity-manager';

/** Where the boot script copies model weights from. */
export interface ModelWeightsConfig {
  /** `s3://<bucket>/<prefix>/`: everything under it is copied. */
  readonly s3Url: string;
  /** The bucket's region (`aws s3 sync --region`). */
  readonly region: string;
}

/**
 * Where an instance reads its model weights from before the model server starts: the boot script copies them
 * to local disk (the instance store when the type has one) with parallel transfers, so the server loads from
 * disk instead of downloading from Hugging Face through the NAT gateway.
 */
export abstract class ModelWeights {
  /**
   * Every object under `prefix` (e.g. `models/qwen2.5-7b-instruct`) in `bucket`. The instance role may read only
   * that prefix (and decrypt with the bucket's key, when it has one this stack knows).
   */
  public static fromBucket(bucket: s3.IBucket, prefix: string): ModelWeights {
    return new BucketWeights(bucket, prefix);
  }

  /** Validates the location (throws naming the prop), grants `grantee` the read and says where to copy from. */
  public abstract bind(scope: Construct, grantee: iam.IGrantable): ModelWeightsConfig;
}

class BucketWeights extends ModelWeights {
  constructor(
    private readonly bucket: s3.IBucket,
    private readonly prefix: string,
  ) {
    super();
  }

  public bind(_scope: Construct, grantee: iam.IGrantable): ModelWeightsConfig {
    const prefix = Token.isUnresolved(this.prefix) ? this.prefix : normalizePrefix(this.prefix);
    const objects = this.bucket.arnForObjects(`${prefix}/*`);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [objects] });
    // `aws s3 sync` lists with Prefix "<prefix>/"; the condition keeps the listing to that prefix.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
    });
    this.bucket.encryptionKey?.grantDecrypt(grantee);
    const principal = grantee.grantPrincipal as unknown as Construct;
    if (principal?.node) {
      acknowledgeNag(
        principal,
        `AwsSolutions-IAM5[Resource::${nagSpelling(principal, objects)}]`,
        `Model weights: s3:GetObject on the objects under ${prefix}/ only (the wildcard is the file names of the model), listing confined to that prefix.`,
      );
    }
    return { s3Url: `s3://${this.bucket.bucketName}/${prefix}/`, region: this.bucket.env.region };
  }
}

/** The prefix without leading or trailing slashes; refuses what IAM would read as a pattern or what names the whole bucket. */
function normalizePrefix(prefix: string): string {
  const name = 'ModelWeights.fromBucket';
  if (typeof prefix !== 'string') throw propError(name, 'prefix', `must be a key prefix such as models/qwen2.5-7b (got ${JSON.stringify(prefix)})`);
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (p === '' || /[*?\s]/.test(p) || p.includes('//') || p.length > 1000) {
    throw propError(
      name,
      'prefix',
      `must be a key prefix such as models/qwen2.5-7b: not empty (the whole bucket), no *, ? or whitespace, no empty segment, ` +
        `at most 1000 characters (got ${JSON.stringify(prefix)})`,
    );
  }
  return p;
}
