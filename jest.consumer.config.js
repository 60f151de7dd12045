/**
 * The consumer test: packs the library, installs it into a fresh CDK app outside the repo and
 * synthesizes from the package's public entry points. Slow (pack + install), so it is its own command
 * (`npm run test:consumer`), which .ci/run also runs.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test-consumer'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 600000,
};
