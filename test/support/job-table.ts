import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { JOB_TABLE_INSTANCE_INDEX } from '../../lib/contracts';
import { uniqueName } from './local-aws';

/** A job table with the same key and index the JobStore construct synthesizes. */
export async function createJobTable(client: DynamoDBClient): Promise<string> {
  const TableName = uniqueName('jobs');
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'jobId', AttributeType: 'S' },
        { AttributeName: 'instanceId', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: JOB_TABLE_INSTANCE_INDEX,
          KeySchema: [{ AttributeName: 'instanceId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  return TableName;
}

export { documentClient } from '../../runtime/jobs/document-client';
