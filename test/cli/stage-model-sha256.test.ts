import { createHash, randomBytes } from 'node:crypto';
import { ResumableSha256 } from '../../tools/stage-model/sha256';

const data = randomBytes(300_000);
const native = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test.each([0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 300_000])('GIVEN %i bytes THEN the digest equals node:crypto’s', (n) => {
  expect(new ResumableSha256().update(data.subarray(0, n)).digest()).toBe(native(data.subarray(0, n)));
});

test('GIVEN the input in uneven pieces THEN the same digest', () => {
  const h = new ResumableSha256();
  for (let o = 0, step = 1; o < data.length; o += step, step = (step * 7 + 3) % 9000) h.update(data.subarray(o, o + step));
  expect(h.digest()).toBe(native(data));
});

test('GIVEN a state saved at a block boundary and restored in a new hash THEN hashing goes on as if never stopped', () => {
  const first = new ResumableSha256();
  first.update(data.subarray(0, 10)).update(data.subarray(10, 64 * 1000));
  const saved = JSON.parse(JSON.stringify(first.save()));
  expect(saved).toEqual({ words: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: 64_000 });
  const resumed = new ResumableSha256(saved).update(data.subarray(64_000));
  expect(resumed.bytes).toBe(data.length);
  expect(resumed.digest()).toBe(native(data));
});

test('fails if asked to save mid-block, or given something that is not a saved state', () => {
  expect(() => new ResumableSha256().update(data.subarray(0, 65)).save()).toThrow(/multiple of 64 bytes/);
  expect(() => new ResumableSha256({ words: 'zz', bytes: 64 })).toThrow(/not a saved state/);
  expect(() => new ResumableSha256({ words: '0'.repeat(64), bytes: 65 })).toThrow(/not a saved state/);
});
