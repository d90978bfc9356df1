import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hsalsa20, XSalsa20 } from './xsalsa20.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// NaCl/libsodium test vectors (crypto_secretbox "firstkey" and its nonce; crypto_stream; core_hsalsa20).
const KEY = hex('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389');
const NONCE = hex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
const MESSAGE = hex(
  'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
);
const CIPHER = hex(
  '8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
);
const STREAM_32 = hex('eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880');

/** The secretbox message starts 32 bytes into the keystream (the first 32 key Poly1305). */
function secretboxXor(chunks: (m: Uint8Array) => Uint8Array[]): Uint8Array {
  const x = new XSalsa20(NONCE, KEY);
  const m = new Uint8Array(32 + MESSAGE.length);
  m.set(MESSAGE, 32);
  for (const c of chunks(m)) x.update(c);
  return m.subarray(32);
}

test('xsalsa20: known answers (libsodium vectors)', () => {
  const out = new Uint8Array(32);
  new XSalsa20(NONCE, KEY).update(out);
  assert.deepEqual(out, STREAM_32, 'crypto_stream_xsalsa20, 32 bytes');
  assert.deepEqual(
    hsalsa20(hex('50824531b103669bb974a92e03e27289e09ef7328b8c22bf3267c811bf28477c'), new Uint8Array(16)),
    hex('44317f32de851b34393a990b004840dc6e468fe10302ba4ec15b3304df34e326'),
    'core_hsalsa20',
  );
  const cases: Array<{ name: string; split: (m: Uint8Array) => Uint8Array[] }> = [
    { name: 'one call', split: (m) => [m] },
    { name: 'byte by byte', split: (m) => Array.from({ length: m.length }, (_, i) => m.subarray(i, i + 1)) },
    { name: 'odd pieces', split: (m) => [m.subarray(0, 7), m.subarray(7, 70), m.subarray(70, 71), m.subarray(71)] },
  ];
  for (const c of cases) assert.deepEqual(secretboxXor(c.split), CIPHER, c.name);
});

test('xsalsa20: any split and alignment gives the same keystream; XOR twice is identity', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const plain = randomBytes(300_000);
  const whole = Uint8Array.from(plain);
  new XSalsa20(nonce, key).update(whole);
  for (const offset of [0, 1, 2, 3]) {
    // Copy into a buffer at `offset` so word access is misaligned for offsets 1–3.
    const backing = new Uint8Array(plain.length + offset);
    const data = backing.subarray(offset);
    data.set(plain);
    const x = new XSalsa20(nonce, key);
    let at = 0;
    let step = 1;
    while (at < data.length) {
      const n = Math.min(step, data.length - at);
      x.update(data.subarray(at, at + n));
      at += n;
      step = (step * 7 + 13) % 70_001; // sizes from 1 byte to ~70 KiB, most not multiples of 64
    }
    assert.deepEqual(data, whole, `offset ${offset}`);
    new XSalsa20(nonce, key).update(data);
    assert.deepEqual(Buffer.from(data), plain, `round trip, offset ${offset}`);
  }
});

test('xsalsa20: a different key or nonce gives a different keystream', () => {
  const a = new Uint8Array(64);
  const b = new Uint8Array(64);
  const c = new Uint8Array(64);
  new XSalsa20(NONCE, KEY).update(a);
  new XSalsa20(
    NONCE,
    Uint8Array.from(KEY, (v, i) => (i === 0 ? v ^ 1 : v)),
  ).update(b);
  new XSalsa20(
    Uint8Array.from(NONCE, (v, i) => (i === 23 ? v ^ 1 : v)),
    KEY,
  ).update(c);
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.throws(() => new XSalsa20(new Uint8Array(16), KEY), RangeError);
});
