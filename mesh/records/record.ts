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
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { MAX_ADVERTISED, ServiceNameSchema } from '../advertise/service.ts';
import { MAX_RECORD_ADDRS, MAX_RECORD_BYTES } from '../constants.ts';
import { MeshError } from '../errors.ts';
import { open, seal, verifySignature } from './envelope.ts';

const DOMAIN = new TextEncoder().encode('fedmesh-node-record/1\n');

/** Kubernetes node names are DNS-1123 subdomains. */
export const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const NodeNameSchema = Type.String({ minLength: 1, maxLength: 253, pattern: NODE_NAME.source });
/** A Kubernetes label value, non-empty: a health zone (mesh/health/zones.ts). */
export const ZoneValueSchema = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
});

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
    /**
     * The node's health zone (mesh config `zone`, a label value), when it has one. Optional, so
     * records without it stay valid; a node of an older version refuses records that carry it.
     */
    zone: Type.Optional(ZoneValueSchema),
    /**
     * Services the node fronts (config `advertise`): name, literal IP and port on the node, the
     * target a tunnel for the service asks for (advertise/). Optional, as `zone`.
     */
    services: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: ServiceNameSchema,
            host: Type.String({ minLength: 2, maxLength: 45 }),
            port: Type.Integer({ minimum: 1, maximum: 65535 }),
            /** The service key's signature of (service, this peer ID), when the node has one (advertise/endorse.ts). */
            endorsement: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: MAX_ADVERTISED },
      ),
    ),
  },
  { additionalProperties: false },
);
export type NodeRecord = Static<typeof NodeRecordSchema>;

const checkRecord = Compile(NodeRecordSchema);

/** A record together with its signed wire bytes (what is stored and forwarded unchanged). */
export interface SignedRecord {
  record: NodeRecord;
  bytes: Uint8Array;
}

/** Signs `record` with `key`; the key must be the one behind `record.peerId`. */
export async function signRecord(record: NodeRecord, key: PrivateKey): Promise<SignedRecord> {
  if (!checkRecord.Check(record)) throw new MeshError('ERR_RECORD_INVALID', 'record does not match its schema');
  const bytes = await seal(DOMAIN, new TextEncoder().encode(JSON.stringify(record)), key);
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
  const env = open(bytes, MAX_RECORD_BYTES);
  if ('why' in env) throw invalid(env.why, env.cause);
  let record: unknown;
  try {
    record = JSON.parse(env.text);
  } catch (err) {
    throw invalid('payload is not JSON', err);
  }
  if (!checkRecord.Check(record)) throw invalid('payload does not match its schema');
  const signed = await verifySignature(DOMAIN, env.payload, env.sig, record.peerId);
  if (!signed.ok) throw invalid(signed.why, signed.cause);
  return { record, bytes };
}
