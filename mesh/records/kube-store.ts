/**
 * Node records kept in the Kubernetes API: each node writes its own signed record into an
 * annotation of its Node object, and a node that has no record of a name reads that Node's. This is
 * how two nodes whose only common peer is a stock circuit-v2 relay (which runs no fedmesh
 * protocol: no record exchange, no lookup, no DHT of ours) learn each other's peer ID: the dialer
 * then opens a circuit to that peer ID through its relay, and the usual record exchange runs end to
 * end over it.
 *
 * The API is only a notice board: the record is signed by the node's own key and verified by the
 * reader (its peer ID, name, signature), and the directory pins the first binding of a name as for
 * every other source (DHT, lookups). Whoever can write Node annotations can at most publish a
 * validly signed record of their own key under a name — what any PSK holder can already do in the
 * DHT — and never displace a pinned binding.
 */
import type { KubeRest } from '../../common/kube/rest.ts';
import { isStatus } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import { MAX_RECORD_BYTES } from '../constants.ts';
import type { NodeRecord } from './record.ts';

export const RECORD_ANNOTATION = 'mesh.fedmesh.io/record';
/** A record whose content did not change is written again this often (others may have lost it). */
const REFRESH_MS = 10 * 60_000;

/** Somewhere outside the mesh that signed records can be put and read by node name. */
export interface RecordStore {
  /** Stores this node's signed record (skipped when only its seq changed since the last write). */
  put(record: NodeRecord, bytes: Uint8Array, signal: AbortSignal): Promise<void>;
  /** The signed record stored for `name`, if any (unverified: the caller verifies). */
  get(name: string, signal: AbortSignal): Promise<Uint8Array | undefined>;
}

interface NodeObject {
  metadata?: { annotations?: Record<string, string> };
}

export function kubeRecordStore(rest: KubeRest, log: Logger): RecordStore {
  let written = '';
  let writtenAt = 0;
  return {
    async put(record, bytes, signal) {
      const content = JSON.stringify({ ...record, seq: 0 });
      if (content === written && Date.now() - writtenAt < REFRESH_MS) return;
      const path = `/api/v1/nodes/${encodeURIComponent(record.name)}`;
      const body = { metadata: { annotations: { [RECORD_ANNOTATION]: Buffer.from(bytes).toString('base64') } } };
      await rest.request('PATCH', path, { body, contentType: 'application/merge-patch+json', signal });
      written = content;
      writtenAt = Date.now();
      log.debug({ seq: record.seq }, 'record stored in the Kubernetes API');
    },
    async get(name, signal) {
      let node: NodeObject;
      try {
        node = await rest.request<NodeObject>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, { signal });
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
      const value = node.metadata?.annotations?.[RECORD_ANNOTATION];
      if (value === undefined || value.length > Math.ceil(MAX_RECORD_BYTES / 3) * 4) return undefined;
      return Uint8Array.from(Buffer.from(value, 'base64'));
    },
  };
}
