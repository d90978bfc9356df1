/**
 * The crypto under noise (Noise XX, ChaCha20-Poly1305, SHA-256, X25519 — unchanged on the wire),
 * all through node:crypto, shaped for bulk transfer. @chainsafe/libp2p-noise 17's default already
 * uses node:crypto for messages of 1200 bytes and more, but:
 *   - it imports the raw 32-byte key on every message (`createCipheriv` with bytes), which costs
 *     more than encrypting a whole 64 KiB message; here each session key becomes a `KeyObject`
 *     once (cached by the key's Uint8Array, which noise keeps for the life of a CipherState);
 *   - it concatenates ciphertext and tag into a fresh buffer; here they are returned as a list
 *     (the protector below copies everything once anyway), and a multi-part plaintext is
 *     encrypted part by part without joining it first;
 *   - small messages go to a WebAssembly ChaCha; with the key cached node:crypto is as quick.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { type ICryptoInterface, pureJsCrypto } from '@chainsafe/libp2p-noise';
import { Uint8ArrayList } from 'uint8arraylist';

const CHACHA = 'chacha20-poly1305';
const TAG = 16;
// DER prefixes of X25519 keys (PKCS#8 private, SPKI public): node:crypto imports and exports DER.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

const keys = new WeakMap<Uint8Array, KeyObject>();
function keyOf(k: Uint8Array): KeyObject {
  let key = keys.get(k);
  if (!key) {
    key = createSecretKey(k);
    keys.set(k, key);
  }
  return key;
}

type Bytes = Uint8Array | Uint8ArrayList;
const join = (b: Bytes): Uint8Array => (b instanceof Uint8Array ? b : b.subarray());

function privateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export const nodeNoiseCrypto: ICryptoInterface = {
  hashSHA256(data) {
    const h = createHash('sha256');
    if (data instanceof Uint8Array) h.update(data);
    else for (const part of data) h.update(part);
    return h.digest();
  },
  getHKDF: pureJsCrypto.getHKDF,
  generateX25519KeyPair() {
    const { publicKey, privateKey: priv } = generateKeyPairSync('x25519', {
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    });
    return { publicKey: publicKey.subarray(SPKI_PREFIX.length), privateKey: priv.subarray(PKCS8_PREFIX.length) };
  },
  generateX25519KeyPairFromSeed(seed) {
    const pub = createPublicKey(privateKey(seed)).export({ type: 'spki', format: 'der' });
    return { publicKey: pub.subarray(SPKI_PREFIX.length), privateKey: seed };
  },
  generateX25519SharedKey(priv, pub) {
    return diffieHellman({
      privateKey: privateKey(join(priv)),
      publicKey: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, join(pub)]), format: 'der', type: 'spki' }),
    });
  },
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    const cipher = createCipheriv(CHACHA, keyOf(k), nonce, { authTagLength: TAG });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const out = new Uint8ArrayList();
    if (plaintext instanceof Uint8Array) out.append(cipher.update(plaintext));
    else for (const part of plaintext) out.append(cipher.update(part));
    cipher.final(); // a stream cipher: nothing left over
    out.append(cipher.getAuthTag());
    return out;
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k) {
    const n = ciphertext.byteLength - TAG;
    if (n < 0) throw new Error('ciphertext shorter than its tag');
    const decipher = createDecipheriv(CHACHA, keyOf(k), nonce, { authTagLength: TAG });
    decipher.setAAD(ad, { plaintextLength: n });
    decipher.setAuthTag(ciphertext.subarray(n));
    if (ciphertext instanceof Uint8Array) {
      const out = decipher.update(ciphertext.subarray(0, n));
      decipher.final(); // throws when the tag does not match
      return out;
    }
    const out = new Uint8ArrayList();
    for (const part of ciphertext.sublist(0, n)) out.append(decipher.update(part));
    decipher.final();
    return out;
  },
};
