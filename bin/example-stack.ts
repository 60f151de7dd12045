import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { JobQueue } from '../lib';

/** The example the README's `npx cdk synth` builds; it grows a layer with each construct. */
export class AiBurstExampleStack extends Stack {
  public readonly queue: JobQueue;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.queue = new JobQueue(this, 'RealtimeQueue', { workload: 'realtime-agent', costCenter: 'agents' });
  }
}
