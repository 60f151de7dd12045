/**
 * Synthesize the example app once for every test file of `npm run test:deploy` (the deploy test and the
 * cfn-lint test read the same assembly). The path reaches the test workers through the environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { synth } from './cloud-assembly';

export const ASSEMBLY_ENV = 'AI_BURST_DEPLOY_TEST_ASSEMBLY';

export default async function globalSetup(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-deploy-synth-'));
  process.env[ASSEMBLY_ENV] = synth(path.resolve(__dirname, '..', '..'), path.join(work, 'cdk.out'));
}
