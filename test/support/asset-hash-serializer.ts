/**
 * Jest snapshot serializer: masks CDK asset hashes (64 hex characters) so a snapshot catches template
 * drift, not every change to bundled Lambda or worker code.
 */
const HAS_HASH = /[0-9a-f]{64}/;
const HASHES = /[0-9a-f]{64}/g;

module.exports = {
  test: (value: unknown): boolean => typeof value === 'string' && HAS_HASH.test(value),
  serialize: (value: string): string => JSON.stringify(value.replace(HASHES, '[ASSET-HASH]')),
};
