/**
 * The signed envelope node records and health views share: UTF-8 JSON
 * `{"payload":"<base64>","sig":"<base64>"}`, where `sig` signs `domain` + the payload bytes with a
 * node's libp2p key. The domain separates the uses, so no other libp2p signature (nor a record as a
 * view) can be replayed as one of them.
 */
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';

const checkEnvelope = Compile(
  Type.Object(
    { payload: Type.String({ minLength: 1 }), sig: Type.String({ minLength: 1, maxLength: 256 }) },
    {
      additionalProperties: false,
    },
  ),
);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function domainBytes(domain: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(domain.length + payload.length);
  out.set(domain);
  out.set(payload, domain.length);
  return out;
}

/** The envelope's wire bytes for `payload`, signed by `key` under `domain`. */
export async function seal(domain: Uint8Array, payload: Uint8Array, key: PrivateKey): Promise<Uint8Array> {
  const sig = await key.sign(domainBytes(domain, payload));
  return new TextEncoder().encode(
    JSON.stringify({ payload: Buffer.from(payload).toString('base64'), sig: Buffer.from(sig).toString('base64') }),
  );
}

/**
 * Opens untrusted envelope bytes (at most `maxBytes`) without checking the signature: the payload,
 * its UTF-8 text and the signature, or why not (`too large`, `not JSON`, ...).
 */
export function open(
  bytes: Uint8Array,
  maxBytes: number,
): { payload: Uint8Array; text: string; sig: Uint8Array } | { why: string; cause?: unknown } {
  if (bytes.length > maxBytes) return { why: 'too large' };
  let env: unknown;
  try {
    env = JSON.parse(utf8.decode(bytes));
  } catch (cause) {
    return { why: 'not JSON', cause };
  }
  if (!checkEnvelope.Check(env)) return { why: 'envelope does not match its schema' };
  const payload = new Uint8Array(Buffer.from(env.payload, 'base64'));
  try {
    return { payload, text: utf8.decode(payload), sig: new Uint8Array(Buffer.from(env.sig, 'base64')) };
  } catch (cause) {
    return { why: 'payload is not UTF-8', cause };
  }
}

/** Whether `sig` signs `domain` + `payload` with the key embedded in `peerId`; else why not. */
export async function verifySignature(
  domain: Uint8Array,
  payload: Uint8Array,
  sig: Uint8Array,
  peerId: string,
): Promise<
  { ok: true } | { ok: false; why: 'bad peer ID' | 'peer ID embeds no key' | 'bad signature'; cause?: unknown }
> {
  let publicKey: { verify(d: Uint8Array, s: Uint8Array): boolean | Promise<boolean> } | undefined;
  try {
    publicKey = peerIdFromString(peerId).publicKey;
  } catch (cause) {
    return { ok: false, why: 'bad peer ID', cause };
  }
  // RSA peer IDs do not embed their key; fedmesh identities are Ed25519, which always do.
  if (publicKey === undefined) return { ok: false, why: 'peer ID embeds no key' };
  return (await publicKey.verify(domainBytes(domain, payload), sig))
    ? { ok: true }
    : { ok: false, why: 'bad signature' };
}
