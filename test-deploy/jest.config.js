/**
 * `npm run test:deploy`: the example app deployed into moto_server and driven through its shipped bundles, and
 * cfn-lint over every template of the example and consumer apps. Slow (synth + deploy), so its own command.
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test-deploy'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  // The example app is synthesized once for both test files.
  globalSetup: '<rootDir>/test-deploy/support/global-setup.ts',
  globalTeardown: '<rootDir>/test-deploy/support/global-teardown.ts',
  testTimeout: 120000,
};
