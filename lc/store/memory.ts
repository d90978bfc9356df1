/** An in-memory LcStore with the same semantics as the SQLite one, for tests and as the contract's reference. */
import { randomUUID } from 'node:crypto';
import type { Kind } from '../../common/wire/index.ts';
import { type LcStore, type OutboxEntry, type StoredObject, type StreamPosition, storeKey } from './types.ts';

export function createMemoryStore(): LcStore {
  const objects = new Map<string, StoredObject>();
  const outbox = new Map<number, OutboxEntry>();
  let pos: StreamPosition = { stream: null, seq: 0 };
  let lastSeq = 0;
  const sorted = () =>
    [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => structuredClone(v));
  return {
    instance: randomUUID(),
    position: () => ({ ...pos }),
    apply(ops, next) {
      // Stage on a copy so a failing op leaves nothing half-applied, like a rolled-back transaction.
      const staged = new Map(objects);
      for (const o of ops) {
        if (o.op === 'upsert') {
          // Through JSON, as SQLite stores it: values JSON cannot hold fail here too.
          const v = {
            kind: o.kind,
            namespace: o.namespace,
            name: o.name,
            object: JSON.parse(JSON.stringify(o.object)),
          };
          staged.set(storeKey(o.kind, o.namespace, o.name), v);
        } else if (o.op === 'delete') staged.delete(storeKey(o.kind, o.namespace, o.name));
        else for (const k of [...staged.keys()]) if (!o.keys.has(k)) staged.delete(k);
      }
      objects.clear();
      for (const [k, v] of staged) objects.set(k, v);
      pos = { ...next };
    },
    getObject: (kind: Kind, namespace: string, name: string) => {
      const v = objects.get(storeKey(kind, namespace, name));
      return v && structuredClone(v);
    },
    listObjects: (kind?: Kind) => sorted().filter((o) => kind === undefined || o.kind === kind),
    enqueue(report) {
      if (report.coalesce) {
        for (const [seq, e] of outbox) {
          if (e.coalesce && e.kind === report.kind && e.namespace === report.namespace && e.name === report.name) {
            outbox.delete(seq);
          }
        }
      }
      const entry: OutboxEntry = { ...report, status: JSON.parse(JSON.stringify(report.status)), seq: ++lastSeq };
      outbox.set(entry.seq, entry);
      return structuredClone(entry);
    },
    outbox: (limit) => [...outbox.values()].slice(0, limit).map((e) => structuredClone(e)),
    outboxSize: () => outbox.size,
    remove(seq) {
      outbox.delete(seq);
    },
    close() {},
  };
}
