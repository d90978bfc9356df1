/** An in-memory LcStore with the same semantics as the SQLite one, for tests and as the contract's reference. */
import { randomUUID } from 'node:crypto';
import type { Kind } from '../../common/wire/index.ts';
import { DEAD_LETTER_STATUS_BYTES, MAX_DEAD_LETTERS } from '../constants.ts';
import { checkOutboxLimits, statusBytes } from './limits.ts';
import {
  type AppliedOp,
  type DeadLetter,
  type LcStore,
  type OutboxEntry,
  type StoredObject,
  type StoreOptions,
  type StreamPosition,
  storeKey,
} from './types.ts';
import { isNewer, isStale, versionOf } from './version.ts';

export function createMemoryStore(opts: StoreOptions = {}): LcStore {
  const maxDeadLetters = opts.maxDeadLetters ?? MAX_DEAD_LETTERS;
  const objects = new Map<string, StoredObject>();
  const outbox = new Map<number, { entry: OutboxEntry; json: string }>();
  const perObject = new Map<string, number>();
  let outboxBytes = 0;
  const dead: DeadLetter[] = []; // oldest first
  let pos: StreamPosition = { stream: null, seq: 0 };
  let lastSeq = 0;
  const sorted = () =>
    [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => structuredClone(v));
  const take = (seq: number) => {
    const e = outbox.get(seq);
    if (!e) return undefined;
    outbox.delete(seq);
    const key = storeKey(e.entry.kind, e.entry.namespace, e.entry.name);
    const n = (perObject.get(key) ?? 1) - 1;
    if (n > 0) perObject.set(key, n);
    else perObject.delete(key);
    outboxBytes -= statusBytes(e.json);
    return e;
  };
  return {
    instance: randomUUID(),
    position: () => ({ ...pos }),
    apply(ops, next) {
      // Stage on a copy so a failing op leaves nothing half-applied, like a rolled-back transaction.
      const staged = new Map(objects);
      const done: AppliedOp[] = [];
      const drop = (key: string, v: StoredObject) => {
        staged.delete(key);
        done.push({ op: 'delete', kind: v.kind, namespace: v.namespace, name: v.name });
      };
      for (const o of ops) {
        if (o.op === 'upsert') {
          const key = storeKey(o.kind, o.namespace, o.name);
          if (isStale(versionOf(o.object), versionOf(staged.get(key)?.object))) continue;
          // Through JSON, as SQLite stores it: values JSON cannot hold fail here too.
          const object = JSON.parse(JSON.stringify(o.object));
          staged.set(key, { kind: o.kind, namespace: o.namespace, name: o.name, object });
          done.push({ op: 'upsert', kind: o.kind, namespace: o.namespace, name: o.name, object });
        } else if (o.op === 'delete') {
          const key = storeKey(o.kind, o.namespace, o.name);
          const held = staged.get(key);
          if (!held) continue;
          if (o.resourceVersion !== undefined && isNewer(versionOf(held.object), o.resourceVersion)) continue;
          drop(key, held);
        } else {
          for (const [k, v] of [...staged])
            if ((o.kind === undefined || v.kind === o.kind) && !o.keys.has(k)) drop(k, v);
        }
      }
      objects.clear();
      for (const [k, v] of staged) objects.set(k, v);
      pos = { ...next };
      return structuredClone(done);
    },
    getObject: (kind: Kind, namespace: string, name: string) => {
      const v = objects.get(storeKey(kind, namespace, name));
      return v && structuredClone(v);
    },
    listObjects: (kind?: Kind) => sorted().filter((o) => kind === undefined || o.kind === kind),
    enqueue(report, limits) {
      const json = JSON.stringify(report.status);
      const key = storeKey(report.kind, report.namespace, report.name);
      const replaced = report.coalesce
        ? [...outbox.values()].filter(
            ({ entry: e }) =>
              e.coalesce && e.kind === report.kind && e.namespace === report.namespace && e.name === report.name,
          )
        : [];
      if (limits) {
        const freed = replaced.reduce((n, r) => n + statusBytes(r.json), 0);
        checkOutboxLimits(
          limits,
          {
            reports: outbox.size - replaced.length + 1,
            bytes: outboxBytes - freed + statusBytes(json),
            objectReports: (perObject.get(key) ?? 0) - replaced.length + 1,
          },
          `${report.kind} ${report.namespace}/${report.name}`,
        );
      }
      for (const r of replaced) take(r.entry.seq);
      const entry: OutboxEntry = { ...report, status: JSON.parse(json), seq: ++lastSeq };
      outbox.set(entry.seq, { entry, json });
      perObject.set(key, (perObject.get(key) ?? 0) + 1);
      outboxBytes += statusBytes(json);
      return structuredClone(entry);
    },
    outbox: (limit) => [...outbox.values()].slice(0, limit).map((e) => structuredClone(e.entry)),
    outboxSize: () => outbox.size,
    outboxBytes: () => outboxBytes,
    remove(seq) {
      take(seq);
    },
    deadLetter(seq, why) {
      const e = take(seq);
      if (!e) return undefined;
      const bytes = statusBytes(e.json);
      const d: DeadLetter = {
        seq,
        kind: e.entry.kind,
        namespace: e.entry.namespace,
        name: e.entry.name,
        reportedAt: e.entry.reportedAt,
        bytes,
        status: bytes <= DEAD_LETTER_STATUS_BYTES ? e.json : null,
        cause: why.cause,
        code: why.code,
        reason: why.reason,
        deadLetteredAt: new Date().toISOString(),
      };
      dead.push(d);
      if (dead.length > maxDeadLetters) dead.splice(0, dead.length - maxDeadLetters);
      return { ...d };
    },
    deadLetters: (limit) => (limit > 0 ? dead.slice(-limit) : []).reverse().map((d) => ({ ...d })),
    deadLetterCount: () => dead.length,
    close() {},
  };
}
