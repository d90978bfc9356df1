/**
 * The downstream of one node on this replica, level-based: the router marks keys dirty, and `next()`
 * compares what the node should hold now (router + cache) with what it was last sent. So changes
 * coalesce per object while a connection is slow or away, and deletes fall out of the same
 * comparison (an object deleted, or no longer routed to the node, that the node was sent).
 */
import { randomBytes } from 'node:crypto';
import type { KubeObject, ObjectKey } from '../../common/sedna/objects.ts';
import type { ObjectLookup, Router } from '../../common/sedna/router.ts';
import type { Kind } from '../../common/wire/index.ts';

export type FeedOp =
  | { op: 'sync-begin'; syncId: string }
  | { op: 'sync-end'; syncId: string; objects: number }
  | { op: 'upsert'; key: ObjectKey; kind: Kind; namespace: string; name: string; obj: KubeObject }
  | { op: 'delete'; key: ObjectKey; kind: Kind; namespace: string; name: string };

export interface Feed {
  readonly node: string;
  /** The object `key` may have changed for this node. */
  markDirty(key: ObjectKey): void;
  /** Queues a full snapshot (sync-begin, one upsert per object routed to the node, sync-end). */
  startSnapshot(): void;
  /** True while a snapshot has begun but its sync-end was not produced yet. */
  inSnapshot(): boolean;
  /** The next operation to send, or undefined when the node is up to date. */
  next(): FeedOp | undefined;
  /** True when `next()` may return something. */
  pending(): boolean;
}

interface Snapshot {
  id: string;
  keys: ObjectKey[];
  i: number;
  begun: boolean;
  sent: Map<ObjectKey, string>;
}

export function createFeed(node: string, deps: { router: Router; cache: ObjectLookup }): Feed {
  const { router, cache } = deps;
  // key → resourceVersion last sent; what the node holds as far as this feed knows.
  let sent = new Map<ObjectKey, string>();
  const dirty = new Set<ObjectKey>();
  let snap: Snapshot | undefined;

  const desired = (key: ObjectKey) => {
    if (!router.routes(key, node)) return undefined;
    const [kind, namespace, name] = key.split('/') as [Kind, string, string];
    const obj = cache.get(kind, namespace, name);
    return obj && { kind, namespace, name, obj };
  };

  function fromSnapshot(s: Snapshot): FeedOp {
    if (!s.begun) {
      s.begun = true;
      return { op: 'sync-begin', syncId: s.id };
    }
    while (s.i < s.keys.length) {
      const key = s.keys[s.i++] as ObjectKey;
      const d = desired(key);
      if (!d) continue;
      s.sent.set(key, d.obj.metadata.resourceVersion ?? '');
      return { op: 'upsert', key, ...d };
    }
    sent = s.sent;
    snap = undefined;
    return { op: 'sync-end', syncId: s.id, objects: s.sent.size };
  }

  return {
    node,
    markDirty(key) {
      dirty.add(key);
    },
    startSnapshot() {
      snap = {
        id: randomBytes(6).toString('hex'),
        keys: [...router.keysOf(node)],
        i: 0,
        begun: false,
        sent: new Map(),
      };
    },
    inSnapshot: () => snap?.begun === true,
    pending: () => snap !== undefined || dirty.size > 0,
    next() {
      if (snap) return fromSnapshot(snap);
      for (const key of dirty) {
        dirty.delete(key);
        const d = desired(key);
        if (d) {
          const rv = d.obj.metadata.resourceVersion ?? '';
          if (sent.get(key) === rv) continue;
          sent.set(key, rv);
          return { op: 'upsert', key, ...d };
        }
        if (!sent.has(key)) continue;
        sent.delete(key);
        const [kind, namespace, name] = key.split('/') as [Kind, string, string];
        return { op: 'delete', key, kind, namespace, name };
      }
      return undefined;
    },
  };
}
