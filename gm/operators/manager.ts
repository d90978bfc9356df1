import { createInformer, type Informer, restListerWatcher } from '../../common/kube/informer.ts';
import { KubeApiError } from '../../common/kube/rest.ts';
import { KINDS } from '../../common/wire/kinds.ts';
import { NotLeaderError } from '../election/index.ts';
import { DEFAULT_RESYNC_MS, DEFAULT_WORKERS } from './constants.ts';
import { TerminalError, WriteRefusedError } from './errors.ts';
import type { OperatorsComponents } from './index.ts';
import { createWorkQueue, type WorkQueue } from './queue.ts';
import { datasetReconciler, modelReconciler, references } from './reconcilers/datamodel.ts';
import { federatedLearningReconciler } from './reconcilers/federatedlearning.ts';
import { incrementalLearningReconciler } from './reconcilers/incremental.ts';
import { jointInferenceReconciler } from './reconcilers/jointinference.ts';
import { lifelongLearningReconciler } from './reconcilers/lifelong.ts';
import { controllerOf, type KubeObject, keyOf, RESOURCES, type ResourceType } from './resources.ts';
import { uidLabel } from './sedna.ts';
import { targetRouter, withTargetLabels } from './targets.ts';
import type { Caches, Reconciler, ReconcilerDeps, WorkerConfig } from './types.ts';
import { createWriter } from './writer.ts';

/** The API server's answer behind a reconcile error, for the log line: status and reason. */
function apiAnswer(err: unknown): { status?: number; reason?: string } {
  const api = err instanceof KubeApiError ? err : (err as Error | undefined)?.cause;
  if (err instanceof WriteRefusedError) return { status: err.status, reason: err.reason };
  return api instanceof KubeApiError ? { status: api.status, reason: api.reason } : {};
}

// Every Sedna kind is a primary: each has its reconciler.
const PRIMARIES = KINDS;
type Primary = (typeof PRIMARIES)[number];

export interface ManagerInit {
  replicaId: string;
  namespace?: string;
  workers: number;
  resyncMs: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  worker: WorkerConfig;
}

/** What one term runs, exposed for tests. */
export interface Term {
  caches: Caches;
  queue: WorkQueue;
  reconcilers: Map<string, Reconciler>;
  /** Runs one reconcile of `Kind/namespace/name` now, as a worker would (without the queue). */
  reconcileNow(key: string, signal: AbortSignal): Promise<void>;
  synced(): boolean;
  /** Nothing queued, delayed or in process. */
  idle(): boolean;
}

export function createManager(init: ManagerInit, c: OperatorsComponents) {
  const log = c.log.child({ component: 'gm.operators' });
  const reg = c.registry;
  const reconciles = reg?.counter('fedmesh_gm_reconcile_total', 'Reconciles by kind and result.');
  const duration = reg?.histogram(
    'fedmesh_gm_reconcile_duration_seconds',
    'Reconcile latency by kind.',
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  );
  const writes = reg?.counter('fedmesh_gm_operator_writes_total', 'Guarded writes by verb and resource.');
  let current: { queue: WorkQueue; caches: Caches } | undefined;
  reg?.gauge('fedmesh_gm_workqueue_depth', 'Keys ready in the operators work queue.', () => current?.queue.len());
  reg?.gauge('fedmesh_gm_operator_caches_synced', '1 when every operator cache has synced this term.', () =>
    current ? (Object.values(current.caches).every((i: Informer) => i.hasSynced()) ? 1 : 0) : undefined,
  );
  let termCount = 0;

  function newTerm(): Term & { informers: Informer[]; start(signal: AbortSignal): Promise<void> } {
    const term = ++termCount;
    const lw = c.listerWatcher ?? ((r: ResourceType, ns?: string) => restListerWatcher(c.rest, r, ns));
    const informer = (resource: ResourceType, labelSelector?: string) =>
      createInformer(
        { resource, namespace: init.namespace, labelSelector },
        { listerWatcher: lw(resource, init.namespace), log },
      );
    const caches: Caches = {
      Dataset: informer(RESOURCES.Dataset),
      Model: informer(RESOURCES.Model),
      JointInferenceService: informer(RESOURCES.JointInferenceService),
      FederatedLearningJob: informer(RESOURCES.FederatedLearningJob),
      IncrementalLearningJob: informer(RESOURCES.IncrementalLearningJob),
      LifelongLearningJob: informer(RESOURCES.LifelongLearningJob),
      jiDeployments: informer(RESOURCES.Deployment, uidLabel('JointInferenceService')),
      jiServices: informer(RESOURCES.Service, uidLabel('JointInferenceService')),
      flPods: informer(RESOURCES.Pod, uidLabel('FederatedLearningJob')),
      flServices: informer(RESOURCES.Service, uidLabel('FederatedLearningJob')),
      ilPods: informer(RESOURCES.Pod, uidLabel('IncrementalLearningJob')),
      llPods: informer(RESOURCES.Pod, uidLabel('LifelongLearningJob')),
    };
    const queue = createWorkQueue({ baseDelayMs: init.baseBackoffMs, maxDelayMs: init.maxBackoffMs }, c.queueClock);
    const writer = createWriter({
      rest: c.rest,
      guard: c.guard,
      writerId: () => `${init.replicaId}/${term}`,
      instance: init.replicaId,
      writes,
    });
    const deps: ReconcilerDeps = { caches, writer, config: init.worker, now: c.now ?? (() => new Date()) };
    const list: Reconciler[] = [
      datasetReconciler(deps),
      modelReconciler(deps),
      jointInferenceReconciler(deps),
      federatedLearningReconciler(deps),
      incrementalLearningReconciler(deps),
      lifelongLearningReconciler(deps),
    ];
    // Per-node target labels from the hub's routes, for LCs listing through an edge API (targets.ts):
    // written first in each object's own reconcile.
    const router = targetRouter(caches, (key) => queue.add(key));
    const reconcilers = new Map(
      list.map((r) => [r.kind as string, withTargetLabels(r, { caches, writer, router, log })]),
    );

    // Events only say which key to look at; reconcilers read the current state themselves.
    const enqueue = (kind: string, obj: KubeObject) => queue.add(`${kind}/${keyOf(obj)}`);
    for (const kind of PRIMARIES) {
      const onPrimary = (o: KubeObject) => enqueue(kind, o);
      caches[kind].addHandlers({ add: onPrimary, update: (_, o) => onPrimary(o), delete: onPrimary });
    }
    // A Dataset or Model wakes the jobs that reference it.
    const wakeDependents = (refKind: 'models' | 'datasets') => (o: KubeObject) => {
      for (const kind of PRIMARIES.slice(2)) {
        for (const job of caches[kind as Primary].list(o.metadata.namespace)) {
          if (references(kind, job)[refKind].includes(o.metadata.name)) enqueue(kind, job);
        }
      }
    };
    for (const [kind, refKind] of [
      ['Model', 'models'],
      ['Dataset', 'datasets'],
    ] as const) {
      const wake = wakeDependents(refKind);
      caches[kind].addHandlers({
        add: wake,
        update: (old, cur) => {
          if (JSON.stringify(old.spec) !== JSON.stringify(cur.spec)) wake(cur);
        },
        delete: wake,
      });
    }
    // A child's change wakes its controller (Sedna's enqueueByPod / enqueueByDeployment).
    const children: [keyof Caches, Primary][] = [
      ['jiDeployments', 'JointInferenceService'],
      ['jiServices', 'JointInferenceService'],
      ['flPods', 'FederatedLearningJob'],
      ['flServices', 'FederatedLearningJob'],
      ['ilPods', 'IncrementalLearningJob'],
      ['llPods', 'LifelongLearningJob'],
    ];
    for (const [cache, kind] of children) {
      const onChild = (o: KubeObject) => {
        const ref = controllerOf(o);
        if (ref?.kind === kind) queue.add(`${kind}/${o.metadata.namespace}/${ref.name}`);
      };
      caches[cache].addHandlers({ add: onChild, update: (_, o) => onChild(o), delete: onChild });
    }

    async function reconcileNow(key: string, signal: AbortSignal): Promise<void> {
      const i = key.indexOf('/');
      const kind = key.slice(0, i);
      const r = reconcilers.get(kind);
      if (!r) throw new TerminalError(`no reconciler for ${kind}`);
      const started = performance.now();
      try {
        const res = await r.reconcile(key.slice(i + 1), { signal, log: log.child({ kind, item: key.slice(i + 1) }) });
        reconciles?.inc(1, { kind, result: 'success' });
        queue.forget(key);
        if (res.requeueAfterMs !== undefined) queue.addAfter(key, res.requeueAfterMs);
      } finally {
        duration?.observe((performance.now() - started) / 1000, { kind });
      }
    }

    async function worker(signal: AbortSignal): Promise<void> {
      for (;;) {
        const key = await queue.get(signal);
        if (key === undefined) return;
        try {
          await reconcileNow(key, signal);
        } catch (err) {
          const kind = key.slice(0, key.indexOf('/'));
          if (signal.aborted || err instanceof NotLeaderError) {
            // The term is ending: the next leader reconciles this key from scratch.
          } else if (err instanceof TerminalError) {
            reconciles?.inc(1, { kind, result: 'terminal' });
            queue.forget(key);
            log.error(
              { err, item: key, ...apiAnswer(err) },
              'reconcile failed permanently; waiting for the next change',
            );
          } else {
            reconciles?.inc(1, { kind, result: 'error' });
            const retryMs = queue.nextDelay(key);
            queue.addRateLimited(key);
            // `key` is redacted by the root logger (it guards private keys): name the field `item`.
            const fields = {
              item: key,
              retryMs,
              ...apiAnswer(err),
              err: { name: (err as Error).name, message: (err as Error).message },
            };
            // A refusal needs someone to change the cluster: worth a warning. Anything else is retried quietly.
            if (err instanceof WriteRefusedError) log.warn(fields, 'write refused by the api server; retrying');
            else log.info(fields, 'reconcile failed; retrying');
          }
        } finally {
          queue.done(key);
        }
      }
    }

    const informers = Object.values(caches) as Informer[];
    return {
      caches,
      queue,
      reconcilers,
      informers,
      reconcileNow,
      synced: () => informers.every((i) => i.hasSynced()),
      idle: () => queue.len() === 0 && queue.processing() === 0 && queue.delayed() === 0,
      async start(signal: AbortSignal): Promise<void> {
        current = { queue, caches };
        const started = performance.now();
        const running = informers.map((i) => i.start(signal));
        try {
          const ok = await Promise.all(informers.map((i) => i.waitForSync(signal)));
          if (ok.every(Boolean) && !signal.aborted) {
            log.info(
              { term, workers: init.workers, queued: queue.len(), syncMs: Math.round(performance.now() - started) },
              'operator caches synced; starting workers',
            );
            const resync = setInterval(() => {
              for (const kind of PRIMARIES) for (const o of caches[kind].list()) enqueue(kind, o);
            }, init.resyncMs);
            try {
              await Promise.all(Array.from({ length: init.workers }, () => worker(signal)));
            } finally {
              clearInterval(resync);
            }
          }
        } finally {
          queue.shutDown();
          await Promise.all(running);
          log.info({ term }, 'operators stopped');
        }
      },
    };
  }

  return { newTerm };
}

export const MANAGER_DEFAULTS = { workers: DEFAULT_WORKERS, resyncMs: DEFAULT_RESYNC_MS };
