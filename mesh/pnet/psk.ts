/**
 * Pre-shared keys in the libp2p PSK v1 ("swarm key") format, the file go-libp2p and js-libp2p read:
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits>
 *
 * Only base16 is accepted: it is what every generator writes, and one encoding leaves nothing to
 * misread. (EdgeMesh hashes any text into a key; a typo there silently yields a different network.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MeshError } from '../errors.ts';

const HEADER = '/key/swarm/psk/1.0.0/';
const ENCODING = '/base16/';

/** Parses a v1 swarm key; returns the canonical file bytes that @libp2p/pnet's `preSharedKey` takes. */
export function parsePsk(text: string): Uint8Array {
  const lines = text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
  const [header, encoding, key, ...rest] = lines.map((l) => l.trim());
  if (header !== HEADER) throw new MeshError('ERR_PSK_FILE', `PSK must start with ${HEADER}`);
  if (encoding !== ENCODING) throw new MeshError('ERR_PSK_FILE', `PSK encoding must be ${ENCODING}`);
  if (key === undefined || !/^[0-9a-fA-F]{64}$/.test(key)) {
    throw new MeshError('ERR_PSK_FILE', 'PSK key must be 64 hex digits (32 bytes)');
  }
  if (rest.some((l) => l !== '')) throw new MeshError('ERR_PSK_FILE', 'unexpected text after the PSK key');
  return new TextEncoder().encode(`${HEADER}\n${ENCODING}\n${key.toLowerCase()}`);
}

/** Reads and parses a PSK file. */
export async function readPskFile(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError('ERR_PSK_FILE', `cannot read PSK file ${path}`, { cause: err });
  }
  return parsePsk(text);
}

/** A fresh random PSK as file text. */
export function generatePsk(): string {
  return `${HEADER}\n${ENCODING}\n${randomBytes(32).toString('hex')}\n`;
}

/** A short fingerprint of a PSK for logs (never the key): first 8 hex digits of SHA-256 of it. */
export function pskFingerprint(psk: Uint8Array): string {
  return createHash('sha256').update(psk).digest('hex').slice(0, 8);
}
