/**
 * The connection registry: a Lease `fedmesh-lc-<node>` per connected node in the GM namespace, held by
 * the replica that serves it (holderIdentity = replica id, acquireTime = when the connection began,
 * renewed while it lasts). Every replica watches these Leases: when a node's Lease names another
 * replica with a later acquireTime than a connection this replica still holds for that node, the
 * local connection is stale (the LC moved on) and is closed with 4409.
 *
 * Identities have a strength: a token-proven connection is never displaced by one that only claims
 * its node (`Node-Name` header, --allow-unauthenticated-sedna-lc); between equals the later wins.
 * A Lease ends with its connection (deleted, with the resourceVersion as precondition), and Leases
 * nobody renews (a replica died) are collected by any replica, so names that come and go leave nothing.
 */
import { createHash } from 'node:crypto';
import { sleep } from '../../common/async.ts';
import { isStatus, type KubeRest } from '../../common/kube/rest.ts';
import { microTime } from '../../common/kube/time.ts';
import type { Logger } from '../../common/log.ts';
import {
  CACHE_BACKOFF_MAX_MS,
  CACHE_BACKOFF_MIN_MS,
  CONNECTION_LEASE_LABEL,
  CONNECTION_LEASE_PREFIX,
  LEASE_WRITE_CONCURRENCY,
  LEASE_WRITE_DELAY_MS,
  WATCH_TIMEOUT_S,
} from './constants.ts';
import type { HubMetrics } from './metrics.ts';

export interface RegistryInit {
  namespace: string;
  replicaId: string;
  /** Renew interval (ms); 0 turns the Leases off (the watch still runs, finding nothing). */
  renewMs: number;
  /** Lease validity written in leaseDurationSeconds. */
  durationS: number;
}

export interface ConnectionRegistry {
  /**
   * Records that this replica serves `node` since `since` (epoch ms), proven by a token (`strong`) or
   * only claimed; `onReplaced` closes it when another replica took over. Returns the release.
   */
  hold(node: string, since: number, strong: boolean, onReplaced: () => void): () => void;
  /** Whether another replica serves `node` now to a token-proven LC (as far as the watch has seen). */
  heldStronglyElsewhere(node: string): boolean;
  /** Connection Leases known from the watch (tests, metrics). */
  known(): number;
  start(signal: AbortSignal): Promise<void>;
}

interface LeaseJson {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    holderIdentity?: string | null;
    acquireTime?: string | null;
    renewTime?: string;
    leaseDurationSeconds?: number;
    leaseTransitions?: number;
  };
}

const NODE_ANNOTATION = 'fedmesh.io/node';
/** How the holder's LC proved its node: `token` or `header` (claimed, unauthenticated Sedna LC). */
const IDENTITY_ANNOTATION = 'fedmesh.io/lc-identity';

type Op = 'hold' | 'release' | 'collect';
interface Known {
  lease: LeaseJson;
  /** Monotonic ms when this resourceVersion was first seen: a Lease unchanged for its duration is dead. */
  seenAt: number;
}

/** `fedmesh-lc-<node>`, shortened with a hash when the node name is too long for an object name. */
export function leaseName(node: string): string {
  const name = CONNECTION_LEASE_PREFIX + node;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(node).digest('hex').slice(0, 10);
  return `${name.slice(0, 253 - 11).replace(/[.-]+$/, '')}-${hash}`;
}

export function createConnectionRegistry(
  init: RegistryInit,
  components: { rest: KubeRest; log: Logger; metrics: HubMetrics },
): ConnectionRegistry {
  const { rest, log, metrics } = components;
  const base = `/apis/coordination.k8s.io/v1/namespaces/${init.namespace}/leases`;
  const held = new Map<string, { since: number; strong: boolean; onReplaced: () => void; at: number }>();
  // The Leases as last seen by the watch: writes go straight to PUT/POST, a GET only after a conflict.
  const known = new Map<string, Known>();
  // Only what writes need (no managedFields): 10k cached Leases stay small.
  const remember = (node: string, l: LeaseJson) => {
    const prev = known.get(node);
    const rv = l.metadata.resourceVersion;
    known.set(node, {
      lease: {
        metadata: {
          name: l.metadata.name,
          resourceVersion: rv,
          annotations: { [IDENTITY_ANNOTATION]: l.metadata.annotations?.[IDENTITY_ANNOTATION] ?? 'token' },
        },
        spec: l.spec && {
          holderIdentity: l.spec.holderIdentity,
          acquireTime: l.spec.acquireTime,
          leaseDurationSeconds: l.spec.leaseDurationSeconds,
          leaseTransitions: l.spec.leaseTransitions,
        },
      },
      seenAt: prev && prev.lease.metadata.resourceVersion === rv ? prev.seenAt : performance.now(),
    });
  };
  const strongLease = (l: LeaseJson) => l.metadata.annotations?.[IDENTITY_ANNOTATION] !== 'header';
  const alive = (k: Known) =>
    performance.now() - k.seenAt < (k.lease.spec?.leaseDurationSeconds ?? init.durationS) * 1000;
  let watchSynced = false;
  const queue = new Map<string, Op>();
  // Nodes a worker is writing now: one write per Lease at a time, the next op waits in the queue.
  const busy = new Set<string>();
  const waiters = new Set<() => void>();

  const enqueue = (node: string, op: Op) => {
    if (init.renewMs <= 0) return;
    queue.delete(node);
    queue.set(node, op);
    for (const w of waiters) w();
  };

  /** Whether `lease` (another replica's) takes the node from our connection: a stronger identity, or an equal one that came later. */
  function replacedBy(lease: LeaseJson, local: { since: number; strong: boolean }): boolean {
    const holder = lease.spec?.holderIdentity;
    if (!holder || holder === init.replicaId) return false;
    const strong = strongLease(lease);
    if (strong !== local.strong) return strong;
    const at = Date.parse(lease.spec?.acquireTime ?? '');
    return Number.isFinite(at) && at > local.since;
  }

  async function read(url: string, node: string, signal: AbortSignal): Promise<LeaseJson | undefined> {
    try {
      const l = await rest.request<LeaseJson>('GET', url, { signal });
      remember(node, l);
      return l;
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      known.delete(node);
      return undefined;
    }
  }

  /** Deletes the Lease only if it is still the version we decided on (nobody took it meanwhile). */
  async function remove(url: string, node: string, lease: LeaseJson, signal: AbortSignal): Promise<boolean> {
    try {
      await rest.request('DELETE', url, {
        body: { preconditions: { resourceVersion: lease.metadata.resourceVersion } },
        signal,
      });
    } catch (err) {
      if (isStatus(err, 409)) {
        metrics.leaseWrites.inc(1, { result: 'conflict' });
        return false;
      }
      if (!isStatus(err, 404)) throw err;
    }
    if (known.get(node)?.lease.metadata.resourceVersion === lease.metadata.resourceVersion) known.delete(node);
    metrics.leaseWrites.inc(1, { result: 'deleted' });
    return true;
  }

  async function write(node: string, op: Op, signal: AbortSignal) {
    const url = `${base}/${leaseName(node)}`;
    // First attempt from the watch's view (no read); after a conflict, from a fresh read.
    let lease = watchSynced ? known.get(node)?.lease : await read(url, node, signal);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) lease = await read(url, node, signal);
      const local = held.get(node);
      if (op === 'collect') {
        // Another replica may have renewed it since the sweep looked: only a Lease still unchanged goes.
        const k = known.get(node);
        if (local || !lease || !k || alive(k)) return;
        if (await remove(url, node, lease, signal)) return;
        continue;
      }
      if (op === 'hold' && !local) return;
      if (op === 'release') {
        if (local || !lease || lease.spec?.holderIdentity !== init.replicaId) return;
        if (await remove(url, node, lease, signal)) return;
        continue;
      }
      if (!local) return;
      if (lease && replacedBy(lease, local)) {
        local.onReplaced();
        return;
      }
      const mine = lease?.spec?.holderIdentity === init.replicaId;
      const body = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: leaseName(node),
          namespace: init.namespace,
          labels: { [CONNECTION_LEASE_LABEL]: 'true' },
          annotations: { [NODE_ANNOTATION]: node, [IDENTITY_ANNOTATION]: local.strong ? 'token' : 'header' },
          ...(lease ? { resourceVersion: lease.metadata.resourceVersion } : {}),
        },
        spec: {
          holderIdentity: init.replicaId,
          acquireTime: mine && lease?.spec?.acquireTime ? lease.spec.acquireTime : microTime(new Date(local.since)),
          renewTime: microTime(new Date()),
          leaseDurationSeconds: init.durationS,
          leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (mine || !lease ? 0 : 1),
        },
      };
      try {
        const saved = lease
          ? await rest.request<LeaseJson>('PUT', url, { body, signal })
          : await rest.request<LeaseJson>('POST', base, { body, signal });
        remember(node, saved);
        metrics.leaseWrites.inc(1, { result: 'ok' });
        return;
      } catch (err) {
        if (!isStatus(err, 409)) throw err;
        metrics.leaseWrites.inc(1, { result: 'conflict' });
      }
    }
  }

  async function worker(signal: AbortSignal) {
    while (!signal.aborted) {
      let next: [string, Op] | undefined;
      for (const e of queue) {
        if (busy.has(e[0])) continue;
        next = e;
        break;
      }
      // New connections are registered a moment later: a reconnect storm serves LCs first.
      const young = next?.[1] === 'hold' ? held.get(next[0]) : undefined;
      if (young && performance.now() - young.at < LEASE_WRITE_DELAY_MS) {
        await sleep(LEASE_WRITE_DELAY_MS - (performance.now() - young.at), signal);
        continue;
      }
      if (next === undefined) {
        await new Promise<void>((r) => {
          const done = () => {
            waiters.delete(done);
            signal.removeEventListener('abort', done);
            r();
          };
          waiters.add(done);
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      const [node, op] = next;
      queue.delete(node);
      busy.add(node);
      try {
        await write(node, op, AbortSignal.any([signal, AbortSignal.timeout(10_000)]));
      } catch (err) {
        if (signal.aborted) return;
        metrics.leaseWrites.inc(1, { result: 'error' });
        log.debug({ err, node, op }, 'connection lease write failed');
        // Renewal retries it; a release that failed leaves a Lease that the collector deletes once it expired.
      } finally {
        busy.delete(node);
        if (queue.has(node)) for (const w of waiters) w();
      }
    }
  }

  async function renewLoop(signal: AbortSignal) {
    while (!signal.aborted) {
      await sleep(init.renewMs, signal);
      for (const node of held.keys()) if (!queue.has(node)) enqueue(node, 'hold');
      // Leases nobody renewed for their whole duration: a replica died holding them, or a release failed.
      for (const [node, k] of known) if (!held.has(node) && !queue.has(node) && !alive(k)) enqueue(node, 'collect');
    }
  }

  async function watchLoop(signal: AbortSignal) {
    let backoff = CACHE_BACKOFF_MIN_MS;
    const query = { labelSelector: `${CONNECTION_LEASE_LABEL}=true` };
    while (!signal.aborted) {
      try {
        const list = await rest.request<{ metadata: { resourceVersion: string }; items: LeaseJson[] }>('GET', base, {
          query,
          signal,
        });
        known.clear();
        for (const l of list.items) check(l);
        watchSynced = true;
        for await (const ev of rest.watch<LeaseJson>(base, {
          query: { ...query, resourceVersion: list.metadata.resourceVersion, timeoutSeconds: WATCH_TIMEOUT_S },
          signal,
        })) {
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') check(ev.object);
          if (ev.type === 'DELETED') {
            const node = ev.object.metadata.annotations?.[NODE_ANNOTATION];
            if (node !== undefined) known.delete(node);
          }
          if (ev.type === 'ERROR') break;
        }
        backoff = CACHE_BACKOFF_MIN_MS;
      } catch (err) {
        if (signal.aborted) return;
        watchSynced = false;
        log.debug({ err }, 'connection lease watch failed');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, CACHE_BACKOFF_MAX_MS);
      }
    }
  }

  function check(lease: LeaseJson) {
    const node = lease.metadata.annotations?.[NODE_ANNOTATION];
    if (node === undefined) return;
    const seen = known.get(node);
    if (!seen || Number(seen.lease.metadata.resourceVersion) < Number(lease.metadata.resourceVersion)) {
      remember(node, lease);
    }
    const local = held.get(node);
    if (!local) return;
    const holder = lease.spec?.holderIdentity;
    if (replacedBy(lease, local)) {
      log.info({ node, holder }, 'node moved to another replica, closing stale connection');
      local.onReplaced();
    } else if (holder && holder !== init.replicaId && local.strong && !strongLease(lease)) {
      // A claimed identity wrote over the node we serve to a proven one: take the Lease back at once,
      // so its replica sees the stronger holder and closes the claimant.
      log.warn({ node, holder }, 'unauthenticated claim on a node served to an authenticated LC');
      enqueue(node, 'hold');
    }
  }

  return {
    hold(node, since, strong, onReplaced) {
      const entry = { since, strong, onReplaced, at: performance.now() };
      held.set(node, entry);
      enqueue(node, 'hold');
      return () => {
        if (held.get(node) !== entry) return;
        held.delete(node);
        enqueue(node, 'release');
      };
    },
    heldStronglyElsewhere(node) {
      const k = known.get(node);
      const holder = k?.lease.spec?.holderIdentity;
      return k !== undefined && !!holder && holder !== init.replicaId && strongLease(k.lease) && alive(k);
    },
    known: () => known.size,
    async start(signal) {
      const workers = init.renewMs > 0 ? Array.from({ length: LEASE_WRITE_CONCURRENCY }, () => worker(signal)) : [];
      await Promise.all([...workers, init.renewMs > 0 ? renewLoop(signal) : Promise.resolve(), watchLoop(signal)]);
    },
  };
}
