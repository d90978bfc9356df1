/**
 * Signed node records: the binding node name ↔ peer ID that every node can check and only the
 * node itself can produce. A record is canonical JSON signed with the node's libp2p key; the peer
 * ID embeds the Ed25519 public key, so a verifier needs nothing but the record itself.
 *
 * Wire form (also the DHT value): UTF-8 JSON `{"payload":"<base64 record JSON>","sig":"<base64>"}`.
 * The signature covers `fedmesh-node-record/1\n` + the payload bytes (domain separation, so no
 * other libp2p signature can be replayed as a record).
 */
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { MAX_RECORD_ADDRS, MAX_RECORD_BYTES } from '../constants.ts';
import { MeshError } from '../errors.ts';

const DOMAIN = new TextEncoder().encode('fedmesh-node-record/1\n');

/** Kubernetes node names are DNS-1123 subdomains. */
export const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const NodeNameSchema = Type.String({ minLength: 1, maxLength: 253, pattern: NODE_NAME.source });

export const NodeRecordSchema = Type.Object(
  {
    v: Type.Literal(1),
    /** The Kubernetes node name. */
    name: NodeNameSchema,
    /** The libp2p peer ID (base58 or CID text) whose key signed this record. */
    peerId: Type.String({ minLength: 1, maxLength: 128 }),
    /** Multiaddrs the node can be reached on, direct and relayed (`.../p2p-circuit`). */
    addrs: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: MAX_RECORD_ADDRS }),
    /** True while the node serves as a circuit relay. */
    relay: Type.Boolean(),
    /** Increases with every new record of this node (milliseconds since the epoch at signing). */
    seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type NodeRecord = Static<typeof NodeRecordSchema>;

const EnvelopeSchema = Type.Object(
  {
    payload: Type.String({ minLength: 1, maxLength: MAX_RECORD_BYTES }),
    sig: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const checkRecord = Compile(NodeRecordSchema);
const checkEnvelope = Compile(EnvelopeSchema);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A record together with its signed wire bytes (what is stored and forwarded unchanged). */
export interface SignedRecord {
  record: NodeRecord;
  bytes: Uint8Array;
}

function signedBytes(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + payload.length);
  out.set(DOMAIN);
  out.set(payload, DOMAIN.length);
  return out;
}

/** Signs `record` with `key`; the key must be the one behind `record.peerId`. */
export async function signRecord(record: NodeRecord, key: PrivateKey): Promise<SignedRecord> {
  if (!checkRecord.Check(record)) throw new MeshError('ERR_RECORD_INVALID', 'record does not match its schema');
  const payload = new TextEncoder().encode(JSON.stringify(record));
  const sig = await key.sign(signedBytes(payload));
  const bytes = new TextEncoder().encode(
    JSON.stringify({ payload: Buffer.from(payload).toString('base64'), sig: Buffer.from(sig).toString('base64') }),
  );
  if (bytes.length > MAX_RECORD_BYTES) throw new MeshError('ERR_RECORD_INVALID', 'record too large');
  return { record, bytes };
}

const invalid = (why: string, cause?: unknown) =>
  new MeshError('ERR_RECORD_INVALID', `node record rejected: ${why}`, cause === undefined ? undefined : { cause });

/**
 * Decodes and verifies a record from untrusted bytes: size, JSON, schema, peer ID, signature by the
 * key embedded in that peer ID. Throws MeshError ERR_RECORD_INVALID otherwise.
 */
export async function verifyRecord(bytes: Uint8Array): Promise<SignedRecord> {
  if (bytes.length > MAX_RECORD_BYTES) throw invalid('too large');
  let env: unknown;
  try {
    env = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw invalid('not JSON', err);
  }
  if (!checkEnvelope.Check(env)) throw invalid('envelope does not match its schema');
  const payload = Buffer.from(env.payload, 'base64');
  const sig = Buffer.from(env.sig, 'base64');
  let record: unknown;
  try {
    record = JSON.parse(utf8.decode(payload));
  } catch (err) {
    throw invalid('payload is not JSON', err);
  }
  if (!checkRecord.Check(record)) throw invalid('payload does not match its schema');
  let publicKey: { verify(d: Uint8Array, s: Uint8Array): boolean | Promise<boolean> } | undefined;
  try {
    publicKey = peerIdFromString(record.peerId).publicKey;
  } catch (err) {
    throw invalid('bad peer ID', err);
  }
  // RSA peer IDs do not embed their key; fedmesh identities are Ed25519, which always do.
  if (publicKey === undefined) throw invalid('peer ID does not embed a public key');
  if (!(await publicKey.verify(signedBytes(payload), sig))) throw invalid('bad signature');
  return { record, bytes };
}
