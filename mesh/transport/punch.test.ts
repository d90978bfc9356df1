import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeHolePunch, encodeHolePunch } from './punch.ts';

test('HolePunch messages: spec encoding (varint length, type field 1, addrs field 2)', () => {
  assert.deepEqual([...encodeHolePunch(100, [])], [0x02, 0x08, 0x64]);
  assert.deepEqual([...encodeHolePunch(300, [])], [0x03, 0x08, 0xac, 0x02]);
  assert.deepEqual(
    [...encodeHolePunch(100, [Uint8Array.of(4, 198, 18, 0, 1)])],
    [0x09, 0x08, 0x64, 0x12, 0x05, 4, 198, 18, 0, 1],
  );
});

test('HolePunch messages round-trip; garbage is an error, never a crash', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(100, 300),
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
      (type, addrs) => {
        const bytes = encodeHolePunch(type, addrs);
        // Skip the varint length prefix (one byte for these sizes).
        const got = decodeHolePunch(bytes.subarray((bytes[0] as number) > 0x7f ? 2 : 1));
        assert.equal(got.type, type);
        assert.deepEqual(
          got.addrs.map((a) => [...a]),
          addrs.map((a) => [...a]),
        );
      },
    ),
  );
  for (const bad of [Uint8Array.of(0x12, 0x09, 1), Uint8Array.of(0x18, 1), Uint8Array.of(0x08, 0x80)]) {
    assert.throws(() => decodeHolePunch(bad));
  }
});
