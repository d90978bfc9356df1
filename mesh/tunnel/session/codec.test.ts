import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ACK,
  DATA,
  encodeAck,
  encodeData,
  encodeFin,
  encodeReset,
  FIN,
  type Frame,
  FrameDecoder,
  RESET,
} from './codec.ts';

/** Decoded frames, DATA payloads joined (how they are split across parts depends on the chunks). */
type Decoded = Exclude<Frame, { type: typeof DATA }> | { type: typeof DATA; offset: number; payload: Uint8Array };
const decodeAll = (chunks: Uint8Array[]): Decoded[] => {
  const d = new FrameDecoder();
  const out: Decoded[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f; f = d.next()) {
      if (f.type !== DATA) out.push(f);
      else {
        const payload = new Uint8Array(Buffer.concat(f.parts));
        assert.equal(payload.length, f.length);
        out.push({ type: DATA, offset: f.offset, payload });
      }
    }
  }
  assert.equal(d.buffered, 0);
  return out;
};

test('frames round-trip', () => {
  const cases: Array<{ name: string; bytes: Uint8Array; want: Decoded }> = [
    {
      name: 'data',
      bytes: encodeData(7, Uint8Array.of(1, 2, 3)),
      want: { type: DATA, offset: 7, payload: Uint8Array.of(1, 2, 3) },
    },
    { name: 'ack', bytes: encodeAck(2 ** 40, false), want: { type: ACK, offset: 2 ** 40, fin: false } },
    { name: 'ack+fin', bytes: encodeAck(5, true), want: { type: ACK, offset: 5, fin: true } },
    { name: 'fin', bytes: encodeFin(Number.MAX_SAFE_INTEGER), want: { type: FIN, offset: Number.MAX_SAFE_INTEGER } },
    { name: 'reset', bytes: encodeReset('target refused'), want: { type: RESET, reason: 'target refused' } },
  ];
  for (const c of cases) {
    const [got] = decodeAll([c.bytes]);
    assert.deepEqual(got, c.want, c.name);
  }
});

test('malformed frames are ERR_SESSION_PROTOCOL', () => {
  const big = new Uint8Array(13);
  new DataView(big.buffer).setUint8(0, DATA);
  new DataView(big.buffer).setUint32(9, 64 * 1024 + 1);
  const empty = new Uint8Array(13);
  empty[0] = DATA;
  const huge = new Uint8Array(9);
  huge[0] = FIN;
  new DataView(huge.buffer).setBigUint64(1, 2n ** 60n);
  const cases = [
    { name: 'unknown type', bytes: Uint8Array.of(9, 0, 0) },
    { name: 'oversized data', bytes: big },
    { name: 'empty data', bytes: empty },
    { name: 'offset beyond 2^53', bytes: huge },
  ];
  for (const c of cases) {
    const d = new FrameDecoder();
    d.push(c.bytes);
    assert.throws(() => d.next(), { code: 'ERR_SESSION_PROTOCOL' }, c.name);
  }
});

test('any split of a frame sequence decodes to the same frames', () => {
  const frame = fc.oneof(
    fc
      .tuple(fc.nat({ max: 2 ** 40 }), fc.uint8Array({ minLength: 1, maxLength: 300 }))
      .map(([o, p]) => encodeData(o, p)),
    fc.tuple(fc.nat(), fc.boolean()).map(([o, f]) => encodeAck(o, f)),
    fc.nat().map((o) => encodeFin(o)),
    fc.string({ maxLength: 40 }).map((r) => encodeReset(r)),
  );
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.array(fc.nat({ max: 50 })), (frames, cuts) => {
      const all = new Uint8Array(Buffer.concat(frames));
      const chunks: Uint8Array[] = [];
      let at = 0;
      for (const c of cuts) {
        if (at >= all.length) break;
        chunks.push(all.subarray(at, at + c + 1));
        at += c + 1;
      }
      if (at < all.length) chunks.push(all.subarray(at));
      assert.deepEqual(decodeAll(chunks), decodeAll([all]));
      assert.equal(decodeAll([all]).length, frames.length);
    }),
  );
});
