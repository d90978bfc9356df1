/**
 * The LC's durable state: the downstream objects it was sent (so it keeps serving with no GM), the
 * position in the GM's stream they reflect, and the outbox of status reports not yet acknowledged.
 * Two implementations share one contract (contract.ts): SQLite (`node:sqlite`) and memory (tests).
 */
import type { Kind } from '../../common/wire/index.ts';

export interface StoredObject {
  kind: Kind;
  namespace: string;
  name: string;
  /** The whole object as the GM sent it. */
  object: Record<string, unknown>;
}

/** Where the stored objects stand in a GM's downstream stream (PROTOCOL.md, resume). */
export interface StreamPosition {
  /** The GM stream id, or null for a fresh store. */
  stream: string | null;
  /** Highest contiguous seq applied from that stream (0 for none). */
  seq: number;
}

/** One change to the stored objects. `retain` deletes every object whose key is not in `keys` (snapshot end). */
export type StoreOp =
  | { op: 'upsert'; kind: Kind; namespace: string; name: string; object: Record<string, unknown> }
  | { op: 'delete'; kind: Kind; namespace: string; name: string }
  | { op: 'retain'; keys: ReadonlySet<string> };

export interface NewReport {
  kind: Kind;
  namespace: string;
  name: string;
  status: Record<string, unknown>;
  /** RFC 3339. */
  reportedAt: string;
  /** Replace earlier reports of the same object that are still in the outbox (only the latest status matters). */
  coalesce: boolean;
}

export interface OutboxEntry extends NewReport {
  /** The report's seq within this store's instance: ids are `{instance, seq}` and never repeat. */
  seq: number;
}

export interface LcStore {
  /** Generated when the store was created, persisted with it; a wiped store gets a new one. */
  readonly instance: string;
  position(): StreamPosition;
  /** Applies `ops` in order and records `pos`, atomically: after a crash either all of it is there or none. */
  apply(ops: StoreOp[], pos: StreamPosition): void;
  getObject(kind: Kind, namespace: string, name: string): StoredObject | undefined;
  /** Every stored object (optionally of one kind), ordered by kind, namespace, name. */
  listObjects(kind?: Kind): StoredObject[];
  /** Durably appends a report (coalescing if asked) and returns it with its seq. */
  enqueue(report: NewReport): OutboxEntry;
  /** Reports waiting for an ack, oldest first, at most `limit`. */
  outbox(limit: number): OutboxEntry[];
  outboxSize(): number;
  /** Forgets an acknowledged (or rejected for good) report; unknown seqs are ignored. */
  remove(seq: number): void;
  close(): void;
}

/** `Kind/namespace/name`, the key `retain` compares. */
export function storeKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
