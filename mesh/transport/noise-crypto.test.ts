import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { pureJsCrypto } from '@chainsafe/libp2p-noise';
import { Uint8ArrayList } from 'uint8arraylist';
import { nodeNoiseCrypto as ours } from './noise-crypto.ts';

const join = (b: Uint8Array | Uint8ArrayList) => Buffer.from(b instanceof Uint8Array ? b : b.subarray());

test('noise crypto: ChaCha20-Poly1305 output equals the reference (noble) byte for byte, both ways', () => {
  const k = randomBytes(32);
  const ad = randomBytes(32);
  for (const size of [0, 1, 1199, 1200, 65_519]) {
    const nonce = randomBytes(12);
    const plain = randomBytes(size);
    const want = join(pureJsCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k));
    assert.deepEqual(join(ours.chaCha20Poly1305Encrypt(plain, nonce, ad, k)), want, `encrypt ${size}`);
    // A multi-part plaintext encrypts to the same bytes.
    const parts = new Uint8ArrayList(plain.subarray(0, size >> 1), plain.subarray(size >> 1));
    assert.deepEqual(join(ours.chaCha20Poly1305Encrypt(parts, nonce, ad, k)), want, `encrypt ${size}, in parts`);
    assert.deepEqual(join(ours.chaCha20Poly1305Decrypt(want, nonce, ad, k)), plain, `decrypt ${size}`);
    const split = new Uint8ArrayList(want.subarray(0, 7), want.subarray(7));
    assert.deepEqual(join(ours.chaCha20Poly1305Decrypt(split, nonce, ad, k)), plain, `decrypt ${size}, in parts`);
    const bad = Buffer.from(want);
    bad[0] = (bad[0] as number) ^ 1;
    assert.throws(() => ours.chaCha20Poly1305Decrypt(bad, nonce, ad, k), `tampered ${size}`);
  }
});

test('noise crypto: X25519 agrees with the reference; SHA-256 of parts equals that of the whole', () => {
  const a = ours.generateX25519KeyPair();
  const b = pureJsCrypto.generateX25519KeyPair();
  assert.deepEqual(
    Buffer.from(ours.generateX25519SharedKey(a.privateKey, b.publicKey)),
    Buffer.from(pureJsCrypto.generateX25519SharedKey(b.privateKey, a.publicKey)),
  );
  const seed = randomBytes(32);
  assert.deepEqual(
    Buffer.from(ours.generateX25519KeyPairFromSeed(seed).publicKey),
    Buffer.from(pureJsCrypto.generateX25519KeyPairFromSeed(seed).publicKey),
  );
  const data = randomBytes(1000);
  assert.deepEqual(
    Buffer.from(ours.hashSHA256(new Uint8ArrayList(data.subarray(0, 10), data.subarray(10)))),
    Buffer.from(pureJsCrypto.hashSHA256(data)),
  );
});
