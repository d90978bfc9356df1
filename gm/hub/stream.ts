/**
 * A fedmesh downstream stream: the numbered data frames this replica produces for one node
 * (PROTOCOL.md, "Sequencing and resume"). It outlives its connection for STREAM_RESUME_TTL_MS so a
 * reconnect to the same replica resumes from the LC's last applied seq instead of a full snapshot.
 */
import { randomBytes } from 'node:crypto';
import type { ObjectLookup, Router } from '../../common/sedna/router.ts';
import { encodeFedmeshFrame } from '../../common/wire/index.ts';
import { createFeed, type Feed } from './feed.ts';
import { fedmeshDelete, fedmeshUpsert } from './session.ts';

export interface Stream {
  readonly id: string;
  readonly node: string;
  readonly feed: Feed;
  /** Last seq assigned. */
  seq: number;
  /** Highest seq the LC acked. */
  acked: number;
  /** Sent, not yet acked frames, in seq order (for resume). */
  log: Array<{ seq: number; data: Buffer }>;
  /** Monotonic ms when the last connection detached; undefined while attached. */
  detachedAt: number | undefined;
  /** The next data frame (the UTF-8 bytes of a text frame), or undefined when the node is up to date. */
  nextFrame(): Buffer | undefined;
  /** Records a cumulative ack; false when `seq` was never sent (a protocol violation). */
  ack(seq: number): boolean;
  /** Can a connection whose LC applied everything up to `seq` of this stream resume it? */
  canResume(seq: number): boolean;
}

export function createStream(replicaId: string, node: string, deps: { router: Router; cache: ObjectLookup }): Stream {
  const feed = createFeed(node, deps);
  // Seqs at which the latest snapshot began and ended (end undefined while it is being sent).
  let snapBegin: number | undefined;
  let snapEnd: number | undefined;
  const st: Stream = {
    id: `${replicaId}/${randomBytes(8).toString('hex')}`,
    node,
    feed,
    seq: 0,
    acked: 0,
    log: [],
    detachedAt: undefined,
    nextFrame() {
      const op = feed.next();
      if (!op) return undefined;
      const seq = ++st.seq;
      let data: Buffer;
      switch (op.op) {
        case 'sync-begin':
          snapBegin = seq;
          snapEnd = undefined;
          data = Buffer.from(encodeFedmeshFrame({ type: 'sync-begin', seq, syncId: op.syncId }));
          break;
        case 'sync-end':
          snapEnd = seq;
          data = Buffer.from(encodeFedmeshFrame({ type: 'sync-end', seq, syncId: op.syncId, objects: op.objects }));
          break;
        case 'upsert':
          data = fedmeshUpsert(seq, op.kind, op.obj);
          break;
        case 'delete':
          data = fedmeshDelete(seq, op.kind, op.namespace, op.name);
          break;
      }
      st.log.push({ seq, data });
      return data;
    },
    ack(seq) {
      if (seq > st.seq) return false;
      if (seq <= st.acked) return true;
      st.acked = seq;
      let drop = 0;
      while (drop < st.log.length && (st.log[drop]?.seq ?? 0) <= seq) drop++;
      if (drop) st.log.splice(0, drop);
      return true;
    },
    canResume(seq) {
      if (seq < st.acked || seq > st.seq) return false;
      const insideSnapshot = snapBegin !== undefined && seq >= snapBegin && (snapEnd === undefined || seq < snapEnd);
      return !insideSnapshot;
    },
  };
  return st;
}
