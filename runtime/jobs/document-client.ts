/**
 * The one DynamoDB DocumentClient factory of the run-time code. Records are written from objects whose optional
 * fields may be `undefined`; `removeUndefinedValues` leaves them out instead of failing the write.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function documentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
