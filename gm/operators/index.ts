/**
 * The GM operators for the six Sedna kinds, run only by the leader: one level-based reconciler per
 * kind behind one interface, one shared rate-limited work queue, informer caches per term, and
 * every write through the fencing guard as a server-side apply or a patch. See README.md.
 */

import type { ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { FencingGuard } from '../election/index.ts';
import { DEFAULT_KB_SERVER, DEFAULT_LC_SERVER, DEFAULT_RESYNC_MS, DEFAULT_WORKERS } from './constants.ts';
import { createManager, type Term } from './manager.ts';
import type { QueueClock } from './queue.ts';
import type { ResourceType } from './resources.ts';

export { DependencyMissingError, TerminalError, WriteRefusedError } from './errors.ts';
export type { Caches, ReconcileContext, ReconcileResult, Reconciler } from './types.ts';
export type { Term };

export interface OperatorsInit {
  /** This replica's identity; with the term number it is stamped on what it applies (`fedmesh.io/written-by`). */
  replicaId: string;
  /** Watch and manage only this namespace. Default: all namespaces (Sedna's `namespace` config, default all). */
  namespace?: string;
  /** Concurrent reconciles shared by all kinds. Default 4. */
  workers?: number;
  /** Every primary is reconciled again this often without events, ms. Default 300 000. */
  resyncMs?: number;
  /** Retry backoff per key, ms: first delay (default 5) and cap (default 300 000). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** The LC's worker API as workers see it (Sedna's `lc.server`). Default `http://localhost:9100`. */
  lcServer?: string;
  /** Lifelong learning's knowledge base server (Sedna's `knowledgeBaseServer.server`). Default `http://localhost:9020`. */
  kbServer?: string;
}

export interface OperatorsComponents {
  rest: KubeRest;
  /** Every write passes it; the term's signal aborts when leadership can no longer be trusted. */
  guard: FencingGuard;
  log: Logger;
  registry?: Registry;
  /** Wall clock for condition and status times (tests pin it). */
  now?: () => Date;
  queueClock?: QueueClock;
  /** Wraps or replaces the list/watch calls per resource (tests). */
  listerWatcher?: (resource: ResourceType, namespace?: string) => ListerWatcher;
}

export interface Operators {
  /** Leader-only: start it from `onStartedLeading(signal)`. */
  readonly needsLeaderElection: true;
  /**
   * Runs one term: starts fresh informer caches, waits until all synced, then reconciles with the
   * workers until `signal` aborts; resolves once informers and workers stopped.
   */
  start(signal: AbortSignal): Promise<void>;
  /** The running term (caches, queue, reconcilers), or undefined between terms. For tests and probes. */
  term(): Term | undefined;
}

export function createOperators(init: OperatorsInit, components: OperatorsComponents): Operators {
  const manager = createManager(
    {
      replicaId: init.replicaId,
      namespace: init.namespace,
      workers: init.workers ?? DEFAULT_WORKERS,
      resyncMs: init.resyncMs ?? DEFAULT_RESYNC_MS,
      baseBackoffMs: init.baseBackoffMs,
      maxBackoffMs: init.maxBackoffMs,
      worker: { lcServer: init.lcServer ?? DEFAULT_LC_SERVER, kbServer: init.kbServer ?? DEFAULT_KB_SERVER },
    },
    components,
  );
  let running: Term | undefined;
  return {
    needsLeaderElection: true,
    term: () => running,
    async start(signal) {
      if (signal.aborted) return;
      const t = manager.newTerm();
      running = t;
      try {
        await t.start(signal);
      } finally {
        if (running === t) running = undefined;
      }
    },
  };
}
