/**
 * Dataset and Model: their status comes from LC reports, written by the hub. The operator keeps it
 * consistent — a report without `updateTime` gets one, as Sedna's GM stamps it — and, through the
 * manager's event handlers, wakes the jobs that reference a Dataset or Model when it changes (a job
 * waiting for its model proceeds the moment the model exists; a changed model URL reaches the
 * Deployments of a joint inference service).
 */
import { type KubeObject, RESOURCES, splitKey } from '../resources.ts';
import { timeString } from '../sedna.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';

function needsTime(kind: 'Dataset' | 'Model', obj: KubeObject): boolean {
  const s = obj.status;
  if (!s || s.updateTime) return false;
  return kind === 'Dataset' ? s.numberOfSamples !== undefined : Array.isArray(s.metrics) && s.metrics.length > 0;
}

function reconciler(kind: 'Dataset' | 'Model', deps: ReconcilerDeps): Reconciler {
  return {
    kind,
    async reconcile(key, { signal }) {
      const { namespace, name } = splitKey(key);
      const obj = deps.caches[kind].get(namespace, name);
      if (!obj || obj.metadata.deletionTimestamp || !needsTime(kind, obj)) return {};
      await deps.writer.patchStatus(RESOURCES[kind], obj, { updateTime: timeString(deps.now()) }, signal);
      return {};
    },
  };
}

export const datasetReconciler = (deps: ReconcilerDeps) => reconciler('Dataset', deps);
export const modelReconciler = (deps: ReconcilerDeps) => reconciler('Model', deps);

/** Names of the Models and Datasets a job references (for waking it when they change). */
export function references(kind: string, obj: KubeObject): { models: string[]; datasets: string[] } {
  const s = obj.spec ?? {};
  switch (kind) {
    case 'JointInferenceService':
      return { models: [s.edgeWorker?.model?.name, s.cloudWorker?.model?.name].filter(Boolean), datasets: [] };
    case 'FederatedLearningJob':
      return {
        models: [s.aggregationWorker?.model?.name, s.pretrainedModel?.name].filter(Boolean),
        datasets: (s.trainingWorkers ?? [])
          .map((w: { dataset?: { name?: string } }) => w.dataset?.name)
          .filter(Boolean),
      };
    case 'IncrementalLearningJob':
      return {
        models: [s.initialModel?.name, s.deploySpec?.model?.name].filter(Boolean),
        datasets: [s.dataset?.name].filter(Boolean),
      };
    case 'LifelongLearningJob':
      return { models: [], datasets: [s.dataset?.name].filter(Boolean) };
    default:
      return { models: [], datasets: [] };
  }
}
