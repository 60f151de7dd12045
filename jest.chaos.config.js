/**
 * The fault-injection suite (issue 12): real worker bundles in child processes, the drainer and the retry
 * handler against the local servers, with fixed seeds. Slow (about 3 minutes), so it is its own command
 * (`npm run test:chaos`), which .ci/run also runs; `npm test` (roots: test/) never picks it up.
 * One file at a time: the scenario itself runs ≥ 4 worker processes on 2 cores.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test-chaos'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  maxWorkers: 1,
  testTimeout: 240000,
};
