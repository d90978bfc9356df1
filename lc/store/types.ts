/**
 * The LC's durable state: the downstream objects it was sent (so it keeps serving with no GM), the
 * position in the GM's stream they reflect, the outbox of status reports not yet acknowledged, and
 * the dead letters (reports the GM refused for good, set aside with the reason).
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

/**
 * One change to the stored objects. `retain` deletes every object (of `kind`, when given) whose key
 * is not in `keys` (the end of a snapshot or of a list). A `delete` with `resourceVersion` (a watch's
 * DELETED event) is skipped when the stored object is newer: it was created again since.
 */
export type StoreOp =
  | { op: 'upsert'; kind: Kind; namespace: string; name: string; object: Record<string, unknown> }
  | { op: 'delete'; kind: Kind; namespace: string; name: string; resourceVersion?: string }
  | { op: 'retain'; keys: ReadonlySet<string>; kind?: Kind };

/** A change the store made: `retain` comes back as the deletes it caused. */
export type AppliedOp = Exclude<StoreOp, { op: 'retain' }>;

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

/** Bounds `enqueue` enforces; a report that would cross one is refused and nothing is stored. */
export interface OutboxLimits {
  /** Most reports waiting in total (ERR_OUTBOX_FULL beyond). */
  maxReports: number;
  /** Most bytes waiting in total, counted as `outboxBytes()` counts them (ERR_OUTBOX_FULL beyond). */
  maxBytes: number;
  /** Most reports waiting for one object (ERR_OBJECT_BACKLOG beyond). A coalescing report replaces, so counts once. */
  maxReportsPerObject: number;
}

/** Why a report was dead-lettered: `nack` (the GM refused it for good), `invalid` (it fails the GM's decoder here), `closed` (the GM closed the link on it). */
export type DeadLetterCause = 'nack' | 'invalid' | 'closed';

export interface DeadLetterReason {
  cause: DeadLetterCause;
  /** The nack code (`INVALID`...), the wire error code (`ERR_SCHEMA`...) or the close code (`4400`). */
  code: string;
  /** Human text: the GM's nack reason or the local decoder's message. */
  reason: string;
}

/** A report set aside instead of retried. */
export interface DeadLetter extends DeadLetterReason {
  /** The report's seq (its id within this store's instance). */
  seq: number;
  kind: Kind;
  namespace: string;
  name: string;
  reportedAt: string;
  /** UTF-8 bytes of its status JSON. */
  bytes: number;
  /** The status JSON text when at most DEAD_LETTER_STATUS_BYTES long, else null (not worth the disk). */
  status: string | null;
  /** RFC 3339, when it was set aside. */
  deadLetteredAt: string;
}

/** Options both implementations take. */
export interface StoreOptions {
  /** Dead letters kept; older ones are forgotten. Default MAX_DEAD_LETTERS. */
  maxDeadLetters?: number;
}

export interface LcStore {
  /** Generated when the store was created, persisted with it; a wiped store gets a new one. */
  readonly instance: string;
  position(): StreamPosition;
  /**
   * Applies `ops` in order and records `pos`, atomically: after a crash either all of it is there or
   * none. Version rules, so that the GM link and the edge API fallback can both feed the store: an
   * upsert whose object has the `metadata.resourceVersion` already stored, or an older one, is
   * skipped (never applied twice, never back to an older version; store/version.ts), and so is one
   * older than the version a deleted object had (the newest MAX_TOMBSTONES deletes are
   * remembered; the same version may come back, e.g. routed to this node again). Returns the
   * changes made, in order, a `retain` as the deletes it caused.
   */
  apply(ops: StoreOp[], pos: StreamPosition): AppliedOp[];
  getObject(kind: Kind, namespace: string, name: string): StoredObject | undefined;
  /** Every stored object (optionally of one kind), ordered by kind, namespace, name. */
  listObjects(kind?: Kind): StoredObject[];
  /**
   * Durably appends a report (coalescing if asked) and returns it with its seq. With `limits`, a
   * report that would cross one throws ReportRefusedError (ERR_OBJECT_BACKLOG, ERR_OUTBOX_FULL) and
   * nothing changes; the check and the write are one transaction.
   */
  enqueue(report: NewReport, limits?: OutboxLimits): OutboxEntry;
  /** Reports waiting for an ack, oldest first, at most `limit`. */
  outbox(limit: number): OutboxEntry[];
  /** Reports waiting (a counter, not a scan). */
  outboxSize(): number;
  /** UTF-8 bytes of the waiting reports' status JSON (a counter, not a scan). */
  outboxBytes(): number;
  /** Forgets an acknowledged report; unknown seqs are ignored. */
  remove(seq: number): void;
  /**
   * Moves a waiting report to the dead letters with `why`, atomically, and returns it; undefined
   * (and no change) for a seq not in the outbox. Only the newest `maxDeadLetters` are kept.
   */
  deadLetter(seq: number, why: DeadLetterReason): DeadLetter | undefined;
  /** Dead letters, newest first, at most `limit`. */
  deadLetters(limit: number): DeadLetter[];
  /** Dead letters kept (a counter, not a scan). */
  deadLetterCount(): number;
  close(): void;
}

/** `Kind/namespace/name`, the key `retain` compares. */
export function storeKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
