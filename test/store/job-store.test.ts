import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { JobStore } from '../../lib';
import { expectNagClean, testStack } from '../support/stacks';

describe('JobStore defaults', () => {
  const { stack } = testStack();
  const store = new JobStore(stack, 'Store');
  const role = new iam.Role(stack, 'FleetRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  store.grantReadWriteRecords(role, 'doc-analysis');
  store.grantWriteResults(role, 'doc-analysis');
  store.grantReadPayloads(role, 'doc-analysis');
  const template = Template.fromStack(stack);

  test('table: on-demand, PITR, encrypted, TTL, byInstance index, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byInstance', KeySchema: [{ AttributeName: 'instanceId', KeyType: 'HASH' }] })],
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('data bucket: encrypted, TLS-only, private, logged, expiring', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'job-data/' }),
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30, Status: 'Enabled' })] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      );
    }
  });

  test("a workload-scoped grant confines records to the workload's ids and objects to its prefixes", () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const records = statements.find((s: any) => [s.Action].flat().includes('dynamodb:UpdateItem'));
    expect(records.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['doc-analysis.*'] } });
    const objectResources = JSON.stringify(
      statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('s3:'))).map((s: any) => s.Resource),
    );
    expect(objectResources).toContain('/results/doc-analysis/*');
    expect(objectResources).toContain('/payloads/doc-analysis/*');
    expect(objectResources).not.toContain('"/*"'); // no whole-bucket object grant
  });

  test('zero unacknowledged cdk-nag findings', () => expectNagClean(stack));
});

test('a KMS key encrypts table and bucket, and grants include it', () => {
  const { stack } = testStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const store = new JobStore(stack, 'Store', { encryptionKey: key, retention: Duration.days(7) });
  const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  store.grantReadWriteRecords(role);
  const t = Template.fromStack(stack);
  t.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() } });
  t.hasResourceProperties('AWS::S3::Bucket', {
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [
        Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }),
      ],
    },
  });
  t.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']) })]) },
  });
  expectNagClean(stack);
});

describe('JobStore fails on invalid input', () => {
  test('fails if retention is under a day', () => {
    const { stack } = testStack();
    expect(() => new JobStore(stack, 'S', { retention: Duration.hours(1) })).toThrow(
      /JobStore: retention must be between 1 day and 3650 days \(got 1 hour\)/,
    );
  });
  test('fails if a grant names an invalid workload', () => {
    const { stack } = testStack();
    const store = new JobStore(stack, 'S');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => store.grantWriteResults(role, 'Bad Name')).toThrow(/JobStore: workload "Bad Name" is invalid/);
  });
});

describe('JobStore cost tags', () => {
  test('GIVEN a cost center THEN the table and both buckets carry it and the _shared workload tag', () => {
    const { stack } = testStack();
    new JobStore(stack, 'Store', { costCenter: 'research' });
    const template = Template.fromStack(stack);
    const tags = Match.arrayWith([
      { Key: 'ai-burst:cost-center', Value: 'research' },
      { Key: 'ai-burst:workload', Value: '_shared' },
    ]);
    template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: tags });
    template.resourcePropertiesCountIs('AWS::S3::Bucket', { Tags: tags }, 2);
  });

  test('GIVEN no cost center THEN only the _shared workload tag', () => {
    const { stack } = testStack();
    new JobStore(stack, 'Store');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: [{ Key: 'ai-burst:workload', Value: '_shared' }] });
  });
});
