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

/** Most keys one PSK file may hold (the one in use and those being retired). */
export const MAX_PSK_KEYS = 4;

/**
 * The keys of a PSK file, first the one this node uses, then older ones still accepted during a
 * rotation — one 64-hex-digit line each after the v1 header:
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <new key>
 *   <old key>
 *
 * go-libp2p and @libp2p/pnet read the first key of such a file and ignore the rest, so a stock
 * relay given the same Secret uses the new key. Returns each key as a canonical one-key file
 * (what `parsePsk` returns), first to last.
 */
export function parsePskKeys(text: string): Uint8Array[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const [header, encoding, ...keys] = lines;
  if (header !== HEADER) throw new MeshError('ERR_PSK_FILE', `PSK must start with ${HEADER}`);
  if (encoding !== ENCODING) throw new MeshError('ERR_PSK_FILE', `PSK encoding must be ${ENCODING}`);
  if (keys.length === 0) throw new MeshError('ERR_PSK_FILE', 'PSK key must be 64 hex digits (32 bytes)');
  if (keys.length > MAX_PSK_KEYS) throw new MeshError('ERR_PSK_FILE', `a PSK file holds at most ${MAX_PSK_KEYS} keys`);
  const seen = new Set<string>();
  return keys.map((k, i) => {
    if (!/^[0-9a-fA-F]{64}$/.test(k)) {
      throw new MeshError('ERR_PSK_FILE', `PSK key ${i + 1} must be 64 hex digits (32 bytes)`);
    }
    const hex = k.toLowerCase();
    if (seen.has(hex)) throw new MeshError('ERR_PSK_FILE', `PSK key ${i + 1} is listed twice`);
    seen.add(hex);
    return new TextEncoder().encode(`${HEADER}\n${ENCODING}\n${hex}`);
  });
}

/** Reads a PSK file that may hold several keys (`parsePskKeys`). */
export async function readPskKeysFile(path: string): Promise<Uint8Array[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError('ERR_PSK_FILE', `cannot read PSK file ${path}`, { cause: err });
  }
  return parsePskKeys(text);
}
