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
import { isNewer, isStale, laterOf, MAX_TOMBSTONES, versionOf } from './version.ts';

export function createMemoryStore(opts: StoreOptions = {}): LcStore {
  const maxDeadLetters = opts.maxDeadLetters ?? MAX_DEAD_LETTERS;
  const objects = new Map<string, StoredObject>();
  const tombstones = new Map<string, string>(); // key → version deleted at, oldest first
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
      // Stage on copies so a failing op leaves nothing half-applied, like a rolled-back transaction.
      const staged = new Map(objects);
      const tombs = new Map(tombstones);
      const done: AppliedOp[] = [];
      const bury = (key: string, rv: string | undefined) => {
        const at = laterOf(tombs.get(key), rv);
        if (at === undefined || !/^[0-9]+$/.test(at)) return;
        tombs.delete(key); // re-inserted last: the most recent delete
        tombs.set(key, at);
      };
      const drop = (key: string, v: StoredObject, rv?: string) => {
        staged.delete(key);
        bury(key, laterOf(versionOf(v.object), rv));
        done.push({ op: 'delete', kind: v.kind, namespace: v.namespace, name: v.name });
      };
      for (const o of ops) {
        if (o.op === 'upsert') {
          const key = storeKey(o.kind, o.namespace, o.name);
          const rv = versionOf(o.object);
          const held = staged.get(key);
          if (isStale(rv, versionOf(held?.object))) continue;
          const tomb = held ? undefined : tombs.get(key);
          if (tomb !== undefined && rv !== undefined && isNewer(tomb, rv)) continue;
          // Through JSON, as SQLite stores it: values JSON cannot hold fail here too.
          const object = JSON.parse(JSON.stringify(o.object));
          staged.set(key, { kind: o.kind, namespace: o.namespace, name: o.name, object });
          tombs.delete(key);
          done.push({ op: 'upsert', kind: o.kind, namespace: o.namespace, name: o.name, object });
        } else if (o.op === 'delete') {
          const key = storeKey(o.kind, o.namespace, o.name);
          const held = staged.get(key);
          if (!held) {
            bury(key, o.resourceVersion);
            continue;
          }
          if (o.resourceVersion !== undefined && isNewer(versionOf(held.object), o.resourceVersion)) continue;
          drop(key, held, o.resourceVersion);
        } else {
          for (const [k, v] of [...staged])
            if ((o.kind === undefined || v.kind === o.kind) && !o.keys.has(k)) drop(k, v);
        }
      }
      for (const k of tombs.keys()) {
        if (tombs.size <= MAX_TOMBSTONES) break;
        tombs.delete(k);
      }
      objects.clear();
      for (const [k, v] of staged) objects.set(k, v);
      tombstones.clear();
      for (const [k, v] of tombs) tombstones.set(k, v);
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
