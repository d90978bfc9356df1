import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Outbox } from './outbox.ts';

test('outbox: whatever the pushes, acks and replays, take() yields the written bytes from the cursor on', () => {
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 1, max: 150_000 }) }),
    fc.record({ take: fc.constant(true) }),
    fc.record({ ack: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ replay: fc.constant(true) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const box = new Outbox();
      const written: number[] = [];
      let acked = 0;
      let next = 0;
      for (const o of ops) {
        if ('push' in o) {
          const chunk = new Uint8Array(o.push);
          for (let i = 0; i < chunk.length; i++) chunk[i] = (written.length + i) % 251;
          for (const b of chunk) written.push(b);
          box.push(chunk);
        } else if ('take' in o) {
          const piece = box.take();
          if (box.position - (piece?.length ?? 0) !== next) assert.fail('cursor moved by itself');
          if (piece) {
            assert.ok(piece.length <= 64 * 1024);
            assert.deepEqual([...piece], written.slice(next, next + piece.length));
            next += piece.length;
          } else assert.equal(next, written.length);
        } else if ('ack' in o) {
          acked = Math.max(acked, Math.floor(acked + (next - acked) * o.ack));
          box.release(acked);
          next = Math.max(next, acked);
          assert.equal(box.position, next);
        } else {
          box.seek(acked);
          next = acked;
        }
        assert.equal(box.end, written.length);
      }
    }),
    { numRuns: 100 },
  );
});

test('outbox: takeParts() spans chunks without copying, up to the limit, and agrees with the bytes written', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 70_000 }),
      (sizes, max) => {
        const box = new Outbox();
        const written: number[] = [];
        const chunks: Uint8Array[] = [];
        for (const n of sizes) {
          const chunk = Uint8Array.from({ length: n }, (_, i) => (written.length + i) % 253);
          for (const b of chunk) written.push(b);
          chunks.push(chunk);
          box.push(chunk);
        }
        const got: number[] = [];
        for (;;) {
          const parts: Uint8Array[] = [];
          const n = box.takeParts(max, parts);
          if (n === 0) break;
          assert.ok(n <= max);
          assert.equal(
            parts.reduce((a, p) => a + p.length, 0),
            n,
          );
          for (const p of parts) {
            assert.ok(
              chunks.some((c) => c.buffer === p.buffer),
              'a view of a written chunk',
            );
            got.push(...p);
          }
        }
        assert.deepEqual(got, written);
        assert.equal(box.position, box.end);
      },
    ),
    { numRuns: 50 },
  );
});
