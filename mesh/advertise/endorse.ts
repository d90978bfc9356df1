/**
 * Endorsed advertisements. Holding the PSK lets a node join the mesh and advertise any service
 * name; a node's signed record proves who the node is, not that it may serve `fedmesh-gm`. An
 * operator who cares (the GM: LCs send it their tokens) gives the real providers a shared service
 * key (an Ed25519 key in a Secret); each provider signs "service S is served by peer P" with it and
 * carries the signature in its record. Forwarding nodes configured with the public key
 * (`serviceKeys`) ignore every provider of that service without a valid endorsement. The peer ID
 * in the signed text binds the endorsement to one node: copying it into another record is useless.
 *
 * Key file: PKCS#8 PEM (`fedmesh mesh --generate-service-key FILE`, or `openssl genpkey -algorithm
 * ed25519`). Public key text: `ed25519:<base64url of the 32 raw bytes>`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { ConfigError } from '../../common/errors.ts';

const DOMAIN = 'fedmesh-service-endorsement/1\n';
const PREFIX = 'ed25519:';
export const PUBLIC_KEY_PATTERN = '^ed25519:[A-Za-z0-9_-]{43}$';

const message = (service: string, peerId: string) => Buffer.from(`${DOMAIN}${service}\n${peerId}`);

/** Reads an Ed25519 private key (PKCS#8 PEM). Throws ConfigError. */
export async function loadServiceKey(path: string): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read service key ${path}: ${(err as Error).message}`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    throw new ConfigError(`service key ${path} is not a PEM private key`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`service key ${path} is not an Ed25519 key`);
  return key;
}

/** `ed25519:<base64url>` of a key's public half. */
export function publicKeyText(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { x: string };
  return `${PREFIX}${jwk.x}`;
}

/** Parses `ed25519:<base64url>`. Throws ConfigError. */
export function parsePublicKey(text: string): KeyObject {
  if (!new RegExp(PUBLIC_KEY_PATTERN).test(text)) {
    throw new ConfigError(`"${text}" is not an ed25519:<base64url> public key`);
  }
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: text.slice(PREFIX.length) }, format: 'jwk' });
  } catch (err) {
    throw new ConfigError(`"${text}" is not an Ed25519 public key`, { cause: err });
  }
}

/** The endorsement of `peerId` serving `service` (base64url signature). */
export function endorse(service: string, peerId: string, key: KeyObject): string {
  return sign(null, message(service, peerId), key).toString('base64url');
}

/** True when `sig` endorses `peerId` for `service` under one of `keys`. Never throws. */
export function isEndorsed(service: string, peerId: string, sig: string | undefined, keys: readonly KeyObject[]) {
  if (sig === undefined || sig.length > 128) return false;
  const bytes = Buffer.from(sig, 'base64url');
  const msg = message(service, peerId);
  return keys.some((k) => {
    try {
      return verify(null, msg, k, bytes);
    } catch {
      return false;
    }
  });
}

/** Writes a new key (0600, refusing to overwrite); returns its public key text. */
export async function generateServiceKey(path: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeFile(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  return publicKeyText(privateKey);
}
