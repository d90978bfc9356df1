/**
 * Drives the managers from the LC's core: every object the store gains, changes or loses becomes
 * an insert or delete on its kind's manager (the stored objects once at start, so managers work
 * with no GM; then each downstream batch as applied), and worker messages route by `ownerKind`.
 */
import type { Logger } from '../../common/log.ts';
import { type Kind, kindOfSedna, SEDNA_KINDS, type SednaKind, sednaKindOf } from '../../common/wire/index.ts';
import { type LcStore, type StoredObject, type StoreOp, storeKey } from '../store/types.ts';
import type { WorkerMessage } from '../worker-api.ts';
import type { Manager, WorkerOutcome } from './types.ts';

export interface ManagerHost {
  /** Starts every manager, then inserts every stored object; resolves once all managers stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** A downstream batch was applied to the store. */
  applied(ops: readonly StoreOp[]): void;
  /** A worker's message: refused unless this node holds its owner, else its manager's answer. */
  workerMessage(m: WorkerMessage): WorkerOutcome;
}

export interface ManagerHostComponents {
  node: string;
  store: LcStore;
  log: Logger;
  managers: ReadonlyMap<SednaKind, Manager>;
}

export function createManagerHost(c: ManagerHostComponents): ManagerHost {
  const { store, managers } = c;
  const log = c.log.child({ component: 'lc.managers' });
  // What the managers were told is stored: a snapshot's `retain` deletes whatever it does not name,
  // and the store no longer has those objects once `applied` runs.
  const known = new Map<string, { kind: Kind; namespace: string; name: string }>();
  let started = false;

  const manager = (kind: Kind) => managers.get(sednaKindOf(kind));

  function insert(obj: StoredObject) {
    known.set(storeKey(obj.kind, obj.namespace, obj.name), {
      kind: obj.kind,
      namespace: obj.namespace,
      name: obj.name,
    });
    try {
      manager(obj.kind)?.insert(obj);
    } catch (err) {
      log.error({ err, kind: obj.kind, namespace: obj.namespace, name: obj.name }, 'manager insert failed');
    }
  }

  function remove(key: string) {
    const o = known.get(key);
    if (!o) return;
    known.delete(key);
    try {
      manager(o.kind)?.delete(o.namespace, o.name);
    } catch (err) {
      log.error({ err, kind: o.kind, namespace: o.namespace, name: o.name }, 'manager delete failed');
    }
  }

  return {
    async start(signal) {
      const running = [...managers.values()].map((m) =>
        m.start(signal).catch((err: unknown) => log.error({ err, kind: m.kind }, 'manager failed')),
      );
      started = true;
      for (const o of store.listObjects()) insert(o);
      await Promise.all(running);
    },
    applied(ops) {
      if (!started) return; // start() inserts whatever the store holds by then
      for (const op of ops) {
        if (op.op === 'upsert') insert(op);
        else if (op.op === 'delete') remove(storeKey(op.kind, op.namespace, op.name));
        else {
          for (const [key, o] of [...known])
            if ((op.kind === undefined || o.kind === op.kind) && !op.keys.has(key)) remove(key);
        }
      }
    },
    workerMessage(m) {
      const sednaKind = m.ownerKind.toLowerCase() as SednaKind;
      if (!SEDNA_KINDS.includes(sednaKind)) {
        return { refuse: { status: 400, message: `ownerKind "${m.ownerKind.slice(0, 64)}" is not a Sedna kind` } };
      }
      const kind = kindOfSedna(sednaKind);
      // Another node's job (or one deleted): the GM would refuse the report; refuse it before it is stored.
      if (!store.getObject(kind, m.namespace, m.ownerName)) {
        return {
          refuse: {
            status: 404,
            message: `no ${kind} ${m.namespace}/${m.ownerName} on node ${c.node}: workers report to the LC of the node their owner was sent to`,
          },
        };
      }
      const mgr = managers.get(sednaKind);
      if (!mgr) return { refuse: { status: 400, message: `no manager for ${kind}` } };
      return mgr.workerMessage(m);
    },
  };
}
