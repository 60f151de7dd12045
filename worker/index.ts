/**
 * Entry of the worker agent: `node worker.js [config-path]` (default WORKER_CONFIG_PATH), run by the GPU
 * fleet's systemd unit. Reads the config GpuFleet wrote, creates the SDK clients (instance role
 * credentials; queues, table and bucket in the config's data region, the rest in its region), starts the
 * agent and stops it gracefully on SIGTERM/SIGINT. Exit codes: 0 after a clean stop; 1 when the config is
 * invalid or boot fails; EXIT_GAVE_UP (3) after the agent gave up on its instance (model server never healthy
 * or lost; reported Unhealthy). The unit's `Restart=always` restarts it in every case; after a give-up that happens
 * only once the agent has waited `giveUpLingerMs` (10 min) for the group to terminate the instance, so a group that
 * does not replace it sees one report per ten minutes, not one per restart.
 */
import { documentClient } from '../runtime/jobs/document-client';
import { WORKER_CONFIG_PATH } from '../lib/contracts';
import { bootMarksDir } from './boot-marks';
import { createWorkerClients } from './clients';
import { loadWorkerConfig } from './config';
import { Log, errorMessage, jsonLogger } from '../runtime/log';
import { WorkerDeps, startWorker } from './worker';

export { loadWorkerConfig, validateWorkerConfig, settingsOf } from './config';
export { startWorker } from './worker';
export type { Worker, WorkerDeps, WorkerEvents, WorkerStatus, ReadyEvent, InterruptedEvent, GaveUpEvent, GiveUpReason } from './worker';

/** The agent gave up on its instance (model server never healthy, or lost) and reported it Unhealthy. */
export const EXIT_GAVE_UP = 3;

/** Run the agent until SIGTERM/SIGINT (or it gives up); resolves with the exit code. `deps` are for tests. */
export async function main(argv: readonly string[] = process.argv, logger: Log = jsonLogger(), deps: Partial<WorkerDeps> = {}): Promise<number> {
  const path = argv[2] ?? WORKER_CONFIG_PATH;
  let config;
  try {
    config = loadWorkerConfig(path);
  } catch (e) {
    logger.error('invalid worker config', { path, error: errorMessage(e) });
    return 1;
  }
  // SQS, DynamoDB and S3 in the data region (config.dataRegion, default config.region); the rest local.
  const { sqs, dynamo: dynamoClient, s3, cloudwatch, autoscaling } = createWorkerClients(config);
  const dynamo = documentClient(dynamoClient);
  const worker = startWorker(config, { sqs, dynamo, s3, cloudwatch, autoscaling, logger, bootMarksDir: bootMarksDir(), ...deps });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('signal received: stopping', { signal });
    void worker.shutdown(signal);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await worker.done;
    return worker.status().gaveUp ? EXIT_GAVE_UP : 0;
  } catch (e) {
    logger.error('worker failed', { error: errorMessage(e) });
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    for (const client of [sqs, dynamoClient, s3, cloudwatch, autoscaling]) client.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`worker crashed: ${String((e as Error)?.stack ?? e)}\n`);
      process.exit(1);
    },
  );
}
