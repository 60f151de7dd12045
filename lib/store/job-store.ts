import { Duration, PhysicalName, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { JOB_TABLE_INSTANCE_INDEX, SHARED_WORKLOAD_TAG_VALUE, WORKLOAD_NAME_PATTERN } from '../contracts';
import { combineGrants, grantKey, grantObjectPrefix } from '../common/grants';
import { acknowledgeNag } from '../common/nag';
import { applyCostTags } from '../common/tags';
import { validateDuration, validatePattern } from '../common/validate';

/** Job records and job data (payloads, results), shared by every workload of a platform. */
export interface IJobStore {
  /** Key `jobId` (`<workload>.<uuid>`), index `byInstance` on `instanceId`, TTL attribute `ttl`. */
  readonly table: dynamodb.ITable;
  /** Payloads under `payloads/<workload>/`, results under `results/<workload>/`. */
  readonly bucket: s3.IBucket;
  readonly encryptionKey?: kms.IKey;
  /** How long records and objects are kept after a job finishes. */
  readonly retention: Duration;
  grantReadWriteRecords(grantee: iam.IGrantable, workload?: string): iam.Grant;
  grantQueryByInstance(grantee: iam.IGrantable): iam.Grant;
  grantReadPayloads(grantee: iam.IGrantable, workload?: string): iam.Grant;
  grantWritePayloads(grantee: iam.IGrantable, workload?: string): iam.Grant;
  grantReadResults(grantee: iam.IGrantable, workload?: string): iam.Grant;
  grantWriteResults(grantee: iam.IGrantable, workload?: string): iam.Grant;
}

export interface JobStoreProps {
  /**
   * Customer-managed KMS key for the table and the bucket.
   * @default - AWS-managed keys: `aws/dynamodb` for the table, SSE-S3 for the bucket
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long job records (TTL) and payload/result objects (lifecycle) are kept; 1 to 3650 days.
   * @default Duration.days(30)
   */
  readonly retention?: Duration;
  /**
   * Bucket for the data bucket's server access logs.
   * @default - a bucket is created for them
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * What happens to the table and buckets when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Value of the `ai-burst:cost-center` tag on the table and the buckets (their `ai-burst:workload` tag is
   * `_shared`: every workload of the platform uses them).
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
}

const NAME = 'JobStore';

/**
 * The job table and the data bucket. Grants take an optional workload, which confines the grantee to
 * that workload's records (`dynamodb:LeadingKeys` `<workload>.*`) and S3 prefixes: one fleet cannot
 * read or write another workload's jobs.
 */
export class JobStore extends Construct implements IJobStore {
  public readonly table: dynamodb.ITable;
  public readonly bucket: s3.IBucket;
  public readonly encryptionKey?: kms.IKey;
  public readonly retention: Duration;

  constructor(scope: Construct, id: string, props: JobStoreProps = {}) {
    super(scope, id);
    validateDuration(NAME, 'retention', props.retention, Duration.days(1), Duration.days(3650));
    this.encryptionKey = props.encryptionKey;
    this.retention = props.retention ?? Duration.days(30);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    // Table and bucket are named by CDK only when a stack of another region uses them (a GPU layer placed
    // away from its platform), so the names and ARNs are literals there; otherwise CloudFormation names them.
    const table = new dynamodb.Table(this, 'Table', {
      tableName: PhysicalName.GENERATE_IF_NEEDED,
      partitionKey: { name: 'jobId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(this.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: this.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      removalPolicy,
    });
    table.addGlobalSecondaryIndex({
      indexName: JOB_TABLE_INSTANCE_INDEX,
      partitionKey: { name: 'instanceId', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table = table;

    const accessLogs = props.accessLogsBucket ?? this.createAccessLogsBucket(removalPolicy);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: PhysicalName.GENERATE_IF_NEEDED,
      ...(this.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'job-data/',
      lifecycleRules: [{ expiration: this.retention, abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
    });
    applyCostTags(this, SHARED_WORKLOAD_TAG_VALUE, props.costCenter);
  }

  private createAccessLogsBucket(removalPolicy: RemovalPolicy): s3.Bucket {
    const logs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // S3 log delivery cannot write to SSE-KMS buckets
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Object ownership is left to CDK: log delivery needs ObjectWriter unless the app opts into
      // policy-based delivery (@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
    });
    acknowledgeNag(logs, 'AwsSolutions-S1', "This bucket receives the data bucket's server access logs; logging it to itself would loop.");
    return logs;
  }

  /** Get, put, update and condition-check job records; confined to one workload's ids when given. */
  public grantReadWriteRecords(grantee: iam.IGrantable, workload?: string): iam.Grant {
    checkWorkload(workload);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
      resourceArns: [this.table.tableArn],
      conditions: workload ? { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${workload}.*`] } } : undefined,
    });
    return this.withKey(grant, grantee, true);
  }

  /** Query the `byInstance` index (the drainer: what does this instance hold). */
  public grantQueryByInstance(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${JOB_TABLE_INSTANCE_INDEX}`],
    });
    return this.withKey(grant, grantee, false);
  }

  public grantReadPayloads(grantee: iam.IGrantable, workload?: string): iam.Grant {
    return grantObjectPrefix(this.bucket, grantee, `payloads/${prefixOf(workload)}`, ['s3:GetObject'], this.encryptionKey, 'decrypt');
  }

  public grantWritePayloads(grantee: iam.IGrantable, workload?: string): iam.Grant {
    return grantObjectPrefix(this.bucket, grantee, `payloads/${prefixOf(workload)}`, ['s3:PutObject'], this.encryptionKey, 'encrypt');
  }

  public grantReadResults(grantee: iam.IGrantable, workload?: string): iam.Grant {
    return grantObjectPrefix(this.bucket, grantee, `results/${prefixOf(workload)}`, ['s3:GetObject'], this.encryptionKey, 'decrypt');
  }

  /** Put results, and delete a run's own object when another run won the job (each run writes under its own key). */
  public grantWriteResults(grantee: iam.IGrantable, workload?: string): iam.Grant {
    return grantObjectPrefix(
      this.bucket,
      grantee,
      `results/${prefixOf(workload)}`,
      ['s3:PutObject', 's3:DeleteObject'],
      this.encryptionKey,
      'encrypt',
    );
  }

  private withKey(grant: iam.Grant, grantee: iam.IGrantable, write: boolean): iam.Grant {
    return combineGrants([grant, grantKey(this.encryptionKey, grantee, write ? 'encrypt' : 'decrypt')]);
  }
}

function checkWorkload(workload: string | undefined): void {
  validatePattern(NAME, 'workload', workload, WORKLOAD_NAME_PATTERN, 'use the workload name of a JobQueue');
}

function prefixOf(workload: string | undefined): string {
  checkWorkload(workload);
  return workload ? `${workload}/` : '';
}
