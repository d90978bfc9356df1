/**
 * The downstream side of one GM connection (common/wire/PROTOCOL.md): object and snapshot frames
 * are applied to the store atomically with the stream position, one transaction for every frame
 * that arrived in a turn of the event loop, then acked and re-credited. A gap in the seqs asks for a
 * resync and ignores frames until the next snapshot begins.
 */

import type { Logger } from '../common/log.ts';
import {
  CLOSE,
  type CloseSpec,
  type FedmeshDownstreamFrame,
  type FedmeshUpstreamFrame,
  MAX_CREDIT_GRANT,
  type WelcomeFrame,
} from '../common/wire/index.ts';
import { recordApplied } from './history.ts';
import { type AppliedOp, type LcStore, type StoreOp, storeKey } from './store/types.ts';

export type DataFrame = Extract<FedmeshDownstreamFrame, { seq: number }>;

export interface Downstream {
  /** Where our store stands, for hello: the stream and the last seq applied from it (0 for none). */
  position(): { stream: string | null; lastDownstreamSeq: number };
  /** Adopts the welcome's stream; false when a `resume` does not continue what we hold. */
  welcome(w: WelcomeFrame): boolean;
  data(f: DataFrame): void;
}

export interface DownstreamComponents {
  store: LcStore;
  log: Logger;
  send(f: FedmeshUpstreamFrame): void;
  /** False once the connection is closing: nothing more is committed. */
  open(): boolean;
  /** Ends the connection (the store could not be written). */
  fail(spec: CloseSpec, detail: string): void;
  applied?(ops: StoreOp[], seq: number): void;
}

export function createDownstream(c: DownstreamComponents): Downstream {
  const { store, log } = c;
  let stream: string | null = store.position().stream;
  let applied = store.position().seq;
  let lost = false; // a gap was seen: ignore data frames until the next sync-begin
  let snapshot: Set<string> | undefined;
  let batch: StoreOp[] = [];
  let toGrant = 0;
  let commitQueued = false;

  function scheduleCommit() {
    if (commitQueued) return;
    commitQueued = true;
    setImmediate(commit);
  }

  function commit() {
    commitQueued = false;
    if (!c.open()) return;
    const ops = batch;
    batch = [];
    const pos = store.position();
    const moved = pos.stream !== stream || pos.seq !== applied;
    if (ops.length || moved) {
      let done: AppliedOp[];
      try {
        // Only what changed goes on: the version rules skip what the store already holds.
        done = store.apply(ops, { stream, seq: applied });
        recordApplied(done, 'gm');
      } catch (err) {
        log.error({ err }, 'cannot write the store');
        c.fail(CLOSE.INTERNAL_ERROR, 'store write failed');
        return;
      }
      if (applied > 0) c.send({ type: 'ack', seq: applied });
      c.applied?.(done, applied);
    }
    if (toGrant > 0) {
      c.send({ type: 'credit', frames: Math.min(toGrant, MAX_CREDIT_GRANT) });
      toGrant = 0;
    }
  }

  return {
    position: () => ({ stream, lastDownstreamSeq: stream === null ? 0 : applied }),
    welcome(w) {
      if (w.mode === 'resume' && (w.stream !== stream || w.nextSeq !== applied + 1)) return false;
      if (w.mode === 'resync') {
        stream = w.stream;
        applied = w.nextSeq - 1;
        snapshot = undefined;
      }
      return true;
    },
    data(f) {
      toGrant++;
      if (lost && f.type !== 'sync-begin') return scheduleCommit();
      if (lost) {
        lost = false;
        applied = f.seq - 1;
      }
      if (f.seq <= applied) return scheduleCommit(); // a duplicate after a resume
      if (f.seq !== applied + 1) {
        log.warn({ expected: applied + 1, got: f.seq }, 'gap in the downstream, asking for a resync');
        lost = true;
        c.send({ type: 'resync-request', reason: `expected seq ${applied + 1}, got ${f.seq}` });
        return scheduleCommit();
      }
      applied = f.seq;
      if (f.type === 'sync-begin') snapshot = new Set();
      else if (f.type === 'sync-end') {
        batch.push({ op: 'retain', keys: snapshot ?? new Set() });
        snapshot = undefined;
      } else if (f.op === 'upsert') {
        snapshot?.add(storeKey(f.kind, f.namespace, f.name));
        batch.push({ op: 'upsert', kind: f.kind, namespace: f.namespace, name: f.name, object: f.object });
      } else batch.push({ op: 'delete', kind: f.kind, namespace: f.namespace, name: f.name });
      scheduleCommit();
    },
  };
}
