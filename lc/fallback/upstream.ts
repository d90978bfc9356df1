/**
 * Outbox reports written as status through the edge API while no GM path is up, converted exactly
 * as the hub converts them (common/sedna/status.ts, with the report's id, so a report a GM also
 * gets later is not applied twice): GET the object, mutate its status, PUT the status subresource
 * with the version read (409 → read again). Reports go oldest first and one object's reports in
 * order; a report is removed from the outbox only once every write it needs succeeded.
 *
 * A report waits for a GM instead when it needs a write the node restriction would refuse (an
 * object not labelled for this node, e.g. an FL job's aggregation Model) or the object is not held
 * here. With `auto`, an endpoint that refuses writes (403, 404 on the status path, 405, 501) turns
 * writing off until the next run; reports wait in the outbox for any path that takes them. A
 * write answered without a new version (an endpoint answering from its cache) is not written: the
 * report stays and is tried again.
 */
import type { Logger } from '../../common/log.ts';
import type { KubeObject } from '../../common/sedna/objects.ts';
import { InvalidReportError, mutationsFor, type StatusMutation, withStatus } from '../../common/sedna/status.ts';
import { isTargeted, type ObjectLookup } from '../../common/sedna/targets.ts';
import { API_VERSION } from '../../crds/constants.ts';
import { kindDefinition } from '../../crds/kinds.ts';
import { type LcStore, type OutboxEntry, storeKey } from '../store/types.ts';
import type { EdgeApiClient } from './client.ts';
import { WRITE_ATTEMPTS, WRITE_BATCH } from './constants.ts';
import { FallbackError } from './errors.ts';
import type { EdgeApiWrites } from './index.ts';

export interface StatusWriterComponents {
  client: EdgeApiClient;
  store: LcStore;
  log: Logger;
  written?(entry: OutboxEntry): void;
  deadLettered?(entry: OutboxEntry, reason: string): void;
}

export type PassResult = 'idle' | 'progress' | 'blocked' | 'disabled';

export interface StatusWriter {
  /** Writes what it can of the outbox; 'idle' when nothing is left to try now. */
  pass(signal: AbortSignal): Promise<PassResult>;
  /** 'on', 'off' (auto turned writing off: the endpoint refuses writes) or 'disabled' (configured off). */
  state(): 'on' | 'off' | 'disabled';
  /** Reports waiting for a GM because a write they need is not this node's to make. */
  waiting(): number;
  /** A new run: `auto` tries writing again. */
  reset(): void;
}

/** Statuses by which an endpoint says it does not take this write at all (not "this object is gone"). */
const REFUSES_WRITES = new Set([403, 405, 501]);

export function createStatusWriter(
  init: { node: string; writes: EdgeApiWrites; requestTimeoutMs: number },
  c: StatusWriterComponents,
): StatusWriter {
  const { client, store, log } = c;
  const { node } = init;
  let state: 'on' | 'off' | 'disabled' = init.writes === 'off' ? 'disabled' : 'on';
  let waiting = 0;
  // The hub reads the objects it holds; here, the store (the FL job's aggregation model name).
  const lookup: ObjectLookup = {
    get: (kind, namespace, name) => store.getObject(kind, namespace, name)?.object as KubeObject | undefined,
  };
  const urlOf = (m: StatusMutation) =>
    `/apis/${API_VERSION}/namespaces/${m.namespace}/${kindDefinition(m.kind).plural}/${m.name}`;

  /** This node may write the status of `m`'s object: it holds it, labelled for this node. */
  function mayWrite(m: StatusMutation): boolean {
    const held = store.getObject(m.kind, m.namespace, m.name)?.object as KubeObject | undefined;
    const labels = (held?.metadata as { labels?: Record<string, string> } | undefined)?.labels;
    return isTargeted(labels, node);
  }

  async function write(m: StatusMutation, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(init.requestTimeoutMs)]);
      const obj = await client.request<KubeObject>('GET', urlOf(m), { signal: deadline });
      const current =
        typeof obj.status === 'object' && obj.status !== null ? (obj.status as Record<string, unknown>) : {};
      const next = m.mutate(current);
      if (next === undefined) return;
      try {
        const sent = (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        const answer = await client.request<KubeObject>('PUT', `${urlOf(m)}/status`, {
          body: withStatus(obj, next),
          signal: deadline,
        });
        // A write that changes the status gets a new version. yurthub, cut off from the cloud,
        // answers an update with the object from its cache (200, same version) and writes nothing:
        // the report must stay in the outbox.
        const got = (answer?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        if (sent !== undefined && got === sent) {
          throw new FallbackError('ERR_EDGE_API_WRITE_IGNORED', `PUT ${urlOf(m)}/status: answered without writing`);
        }
        return;
      } catch (err) {
        if (!(err instanceof FallbackError && err.status === 409) || attempt >= WRITE_ATTEMPTS) throw err;
      }
    }
  }

  return {
    state: () => state,
    reset() {
      if (state === 'off') state = 'on';
    },
    waiting: () => waiting,
    async pass(signal) {
      if (state !== 'on') return state === 'disabled' ? 'disabled' : 'blocked';
      const blocked = new Set<string>(); // objects whose earlier report could not go: keep their order
      let progress = false;
      let left = false;
      let held = 0;
      for (const e of store.outbox(WRITE_BATCH)) {
        if (signal.aborted) break;
        const key = storeKey(e.kind, e.namespace, e.name);
        if (blocked.has(key)) continue;
        let mutations: StatusMutation[];
        try {
          const report = {
            node,
            kind: e.kind,
            namespace: e.namespace,
            name: e.name,
            content: e.status,
            id: { instance: store.instance, seq: e.seq },
            reportedAt: e.reportedAt,
          };
          mutations = store.getObject(e.kind, e.namespace, e.name)
            ? mutationsFor(report, lookup, new Date().toISOString())
            : [];
          if (!store.getObject(e.kind, e.namespace, e.name) || !mutations.every(mayWrite)) {
            blocked.add(key);
            held++;
            continue;
          }
        } catch (err) {
          if (!(err instanceof InvalidReportError)) throw err;
          // The hub would nack it as INVALID, not retryable: set aside as the link does.
          store.deadLetter(e.seq, { cause: 'nack', code: 'INVALID', reason: err.message });
          c.deadLettered?.(e, err.message);
          progress = true;
          continue;
        }
        try {
          for (const m of mutations) await write(m, signal);
          store.remove(e.seq);
          c.written?.(e);
          progress = true;
        } catch (err) {
          if (signal.aborted) break;
          blocked.add(key);
          left = true;
          const status = err instanceof FallbackError ? err.status : undefined;
          if (init.writes === 'auto' && status !== undefined && REFUSES_WRITES.has(status)) {
            state = 'off';
            log.warn({ err, endpoint: client.url }, 'edge api refuses status writes; reports wait for a gm');
            return 'blocked';
          }
          log.warn({ err, kind: e.kind, namespace: e.namespace, name: e.name }, 'status write through edge api failed');
        }
      }
      waiting = held;
      if (progress) return 'progress';
      return left ? 'blocked' : 'idle';
    },
  };
}
