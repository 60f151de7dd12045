import { Tags as CdkTags } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Tags } from '../contracts';

/** Apply the cost-allocation tags to a construct and everything under it. */
export function applyCostTags(scope: IConstruct, workload: string | undefined, costCenter: string | undefined): void {
  if (workload) CdkTags.of(scope).add(Tags.WORKLOAD, workload);
  if (costCenter) CdkTags.of(scope).add(Tags.COST_CENTER, costCenter);
}
