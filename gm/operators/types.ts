import type { Informer } from '../../common/kube/informer.ts';
import type { Logger } from '../../common/log.ts';
import type { KindName } from '../../crds/index.ts';
import type { Writer } from './writer.ts';

export interface ReconcileContext {
  /** Aborts when the term ends or the operators stop: stop at once, write nothing more. */
  signal: AbortSignal;
  log: Logger;
}

export interface ReconcileResult {
  /** Reconcile this key again after this many ms (a time-based condition, not an error). */
  requeueAfterMs?: number;
}

/**
 * One small level-based reconciler per kind (controller-runtime's shape): read the current state
 * from the caches (never trust an event), converge, be idempotent. Throwing retries the key with
 * backoff; throwing a TerminalError logs and stops retrying it until its next change.
 */
export interface Reconciler {
  readonly kind: KindName;
  /** `key` is `namespace/name` of an object of `kind`. */
  reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult>;
}

/** The informer caches of one term: the six Sedna kinds and what the operators create, by owner kind. */
export interface Caches {
  Dataset: Informer;
  Model: Informer;
  JointInferenceService: Informer;
  FederatedLearningJob: Informer;
  IncrementalLearningJob: Informer;
  LifelongLearningJob: Informer;
  jiDeployments: Informer;
  jiServices: Informer;
  flPods: Informer;
  flServices: Informer;
  ilPods: Informer;
  llPods: Informer;
}

/** Addresses Sedna's GM passes to workers (its config `lc.server`, `knowledgeBaseServer.server`). */
export interface WorkerConfig {
  lcServer: string;
  kbServer: string;
}

/** What every reconciler gets. */
export interface ReconcilerDeps {
  caches: Caches;
  writer: Writer;
  config: WorkerConfig;
  /** Wall clock for condition and status times. */
  now(): Date;
}
