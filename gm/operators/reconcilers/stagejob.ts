/**
 * The Train -> Eval -> Deploy state machine of IncrementalLearningJob and LifelongLearningJob
 * (Sedna's transitJobState), driven by the job's conditions — the LC's reports, appended by the hub,
 * move a stage from Waiting to Ready (or report Completed/Failed) — and by the stage pod's phase:
 *
 *   (none) -> Waiting;  Waiting: wait for the LC
 *   Ready   -> create the stage pod (Train, Eval) -> Starting;
 *              Deploy: restart the inference pod -> Completed (IL with hot update: -> Starting)
 *   Starting/Running -> pod Running: note its node in `sedna.io/<Stage>` -> Running;
 *              pod Succeeded -> Completed; pod Failed -> Failed
 *   Completed -> next stage, Waiting;  Failed -> Train, Waiting
 *
 * Every new condition is appended with a resourceVersion precondition, so a report the hub appended
 * meanwhile is never overwritten (409, then a fresh look). Pods created for a step are named after
 * the index of the condition that asked for them (`<job>-train-7`), so repeating the step — after a
 * conflict or on a new leader — finds the pod instead of creating another.
 */

import type { Informer } from '../../../common/kube/informer.ts';
import { STAGE_NODE_ANNOTATION_PREFIX } from '../constants.ts';
import { TerminalError, WriteRefusedError } from '../errors.ts';
import { type KubeObject, RESOURCES, type ResourceType, splitKey } from '../resources.ts';
import { type Condition, stableSuffix, timeString, workerTypeLabel } from '../sedna.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';
import { stableJson } from '../writer.ts';
import { phaseOf } from './common.ts';

export type Stage = 'Train' | 'Eval' | 'Deploy';

interface ModelRef {
  url?: string;
  format?: string;
}

/** The `data` of a condition (Sedna's IncrementalCondData / ConditionData). */
export interface ConditionData {
  input?: {
    model?: ModelRef;
    models?: ModelRef[];
    dataURL?: string;
    dataIndexURL?: string;
    outputDir?: string;
  };
  output?: { model?: ModelRef; models?: ModelRef[] };
}

export function parseData(cond: Condition | undefined): ConditionData {
  try {
    return JSON.parse(String(cond?.data ?? '{}')) as ConditionData;
  } catch {
    return {};
  }
}

/** Sedna's joinModelURLs: the single model if set, else every model. */
export function modelUrls(part: { model?: ModelRef; models?: ModelRef[] } | undefined): string[] {
  if (!part) return [];
  if (part.model) return [part.model.url ?? ''];
  return (part.models ?? []).map((m) => m.url ?? '');
}

/** What differs between the two kinds. */
/** The env every stage worker of an incremental or lifelong learning job gets, as Sedna sets it. */
export function stageWorkerEnv(deps: ReconcilerDeps, job: KubeObject, worker: string): Record<string, string> {
  return {
    NAMESPACE: job.metadata.namespace ?? '',
    JOB_NAME: job.metadata.name,
    WORKER_NAME: `${worker}-${stableSuffix(job.metadata.uid ?? '', worker)}`,
    LC_SERVER: deps.config.lcServer,
  };
}

export interface StageJobFlavor {
  kind: 'IncrementalLearningJob' | 'LifelongLearningJob';
  resource: ResourceType;
  jobs(deps: ReconcilerDeps): Informer;
  pods(deps: ReconcilerDeps): Informer;
  /** IL starts its inference worker with the job; LL only at its first Deploy. */
  inferenceAtStart: boolean;
  /** IL with hot update keeps the inference pod and lets it reload the model. */
  hotUpdate(job: KubeObject): boolean;
  /** The Train or Eval pod for the step asked for by `conditions.at(-1)`. Throws TerminalError without input. */
  stagePod(
    job: KubeObject,
    stage: 'Train' | 'Eval',
    data: ConditionData,
    conditions: Condition[],
    name: string,
  ): KubeObject;
  inferencePod(job: KubeObject, name: string): KubeObject;
  /** Annotations to set on the job when the inference pod is created (IL hot update). */
  inferenceAnnotations?(job: KubeObject): Record<string, string>;
}

const WORKER_TYPE: Record<Stage, string> = { Train: 'train', Eval: 'eval', Deploy: 'inference' };
const NEXT: Record<Stage, Stage> = { Train: 'Eval', Eval: 'Deploy', Deploy: 'Train' };

function podIndex(pod: KubeObject): number {
  const n = Number(pod.metadata.name.slice(pod.metadata.name.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : -1;
}

/** The newest pod of a worker type (Sedna's getSpecifiedPods), by creation time, then by step index. */
function latestPod(pods: KubeObject[], kind: string, workerType: string): KubeObject | undefined {
  const label = workerTypeLabel(kind);
  return pods
    .filter((p) => p.metadata.labels?.[label] === workerType)
    .sort(
      (a, b) =>
        String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) ||
        podIndex(a) - podIndex(b),
    )
    .at(-1);
}

export function stageJobReconciler(flavor: StageJobFlavor, deps: ReconcilerDeps): Reconciler {
  const { writer } = deps;
  const jobs = flavor.jobs(deps);
  const podCache = flavor.pods(deps);

  async function ensurePod(pod: KubeObject, signal: AbortSignal): Promise<void> {
    const cur = podCache.get(pod.metadata.namespace ?? '', pod.metadata.name);
    // Pods are immutable and this name belongs to one step: if it exists, the step made it.
    if (cur) return;
    await writer.apply(RESOURCES.Pod, pod, undefined, signal);
  }

  /**
   * A stage's pod refused for what the cluster lacks (its default ServiceAccount, a permission):
   * the stage fails with the API's answer (condition Failed, reason `PodCreationFailed`; the state
   * machine goes back to Train/Waiting as for a failed pod) and a Warning Event says so, once until
   * the stage moves on. Rethrows, so the key is retried with backoff.
   */
  async function refused(
    job: KubeObject,
    conditions: Condition[],
    stage: Stage,
    err: WriteRefusedError,
    signal: AbortSignal,
  ): Promise<never> {
    const reason = `${err.kind}CreationFailed`;
    const last = conditions.at(-1);
    // Once per streak: a retry at start names its pod after the condition count, so its message differs.
    if (!(last?.type === 'Failed' && last.stage === stage && last.reason === reason)) {
      const now = timeString(deps.now());
      const failed = { type: 'Failed', status: 'True', stage, reason, message: err.message };
      await writer.patchStatus(
        flavor.resource,
        job,
        { conditions: [...conditions, { ...failed, lastHeartbeatTime: now, lastTransitionTime: now }] },
        signal,
      );
      await writer.event(flavor.resource, job, { type: 'Warning', reason, message: err.message }, signal);
    }
    throw err;
  }

  /** Runs `create`; a refusal fails `stage` (see refused). */
  async function creating(
    job: KubeObject,
    conditions: Condition[],
    stage: Stage,
    signal: AbortSignal,
    create: () => Promise<void>,
  ): Promise<void> {
    try {
      await create();
    } catch (err) {
      if (err instanceof WriteRefusedError) await refused(job, conditions, stage, err, signal);
      throw err;
    }
  }

  async function ensureInference(job: KubeObject, name: string, pods: KubeObject[], signal: AbortSignal) {
    // Sedna's restartInferPod: the old inference worker goes, a new one (reading the new model) comes.
    for (const p of pods) {
      if (p.metadata.labels?.[workerTypeLabel(flavor.kind)] !== 'inference') continue;
      if (p.metadata.name !== name && !p.metadata.deletionTimestamp) await writer.delete(RESOURCES.Pod, p, signal);
    }
    await ensurePod(flavor.inferencePod(job, name), signal);
  }

  return {
    kind: flavor.kind,
    async reconcile(key, { signal, log }) {
      const { namespace, name } = splitKey(key);
      let job = jobs.get(namespace, name);
      if (!job || job.metadata.deletionTimestamp) return {};
      const conditions: Condition[] = job.status?.conditions ?? [];
      const pods = podCache.byController(job.metadata.uid ?? '');
      const status: Record<string, unknown> = {};

      if (!job.status?.startTime) {
        status.startTime = timeString(deps.now());
        if (flavor.inferenceAtStart) {
          const pod = latestPod(pods, flavor.kind, 'inference');
          const phase = phaseOf(pod);
          if (!pod || (phase !== 'Running' && phase !== 'Pending')) {
            const inference = flavor.inferencePod(job, `${name}-inference-${conditions.length}`);
            await creating(job, conditions, 'Deploy', signal, () => ensurePod(inference, signal));
          }
          job = await annotate(job, flavor.inferenceAnnotations?.(job) ?? {}, signal);
        }
      }

      const latest = conditions.at(-1);
      const stage = (latest?.stage as Stage | undefined) ?? 'Train';
      const step = conditions.length - 1;
      const pod = latest ? latestPod(pods, flavor.kind, WORKER_TYPE[stage] ?? '') : undefined;
      const phase = phaseOf(pod);
      let nextStage: Stage = stage;
      let nextType = latest?.type ?? '';

      switch (latest?.type) {
        case undefined:
          nextType = 'Waiting';
          break;
        case 'Ready':
          if (stage === 'Deploy') {
            if (flavor.hotUpdate(job)) nextType = 'Starting';
            else {
              const current = job;
              await creating(job, conditions, 'Deploy', signal, () =>
                ensureInference(current, `${name}-inference-${step}`, pods, signal),
              );
              job = await annotate(job, flavor.inferenceAnnotations?.(job) ?? {}, signal);
              nextType = 'Completed';
            }
          } else {
            if (phase !== 'Pending' && phase !== 'Running') {
              const data = parseData(latest);
              if (!data.input) {
                throw new TerminalError(`${flavor.kind} ${key}: the ${stage} Ready condition carries no input`);
              }
              const stagePod = flavor.stagePod(job, stage, data, conditions, `${name}-${WORKER_TYPE[stage]}-${step}`);
              await creating(job, conditions, stage, signal, () => ensurePod(stagePod, signal));
            }
            nextType = 'Starting';
          }
          break;
        case 'Starting':
        case 'Running':
          if (phase === 'Running') {
            if (stage === 'Deploy' && !flavor.hotUpdate(job)) nextType = 'Completed';
            else {
              const node = pod?.spec?.nodeName;
              if (node) job = await annotate(job, { [STAGE_NODE_ANNOTATION_PREFIX + stage]: node }, signal);
              nextType = 'Running';
            }
          } else if (phase === 'Succeeded') nextType = 'Completed';
          else if (phase === 'Failed') nextType = 'Failed';
          break;
        case 'Completed':
          nextStage = NEXT[stage] ?? 'Train';
          nextType = 'Waiting';
          break;
        case 'Failed':
          nextStage = 'Train';
          nextType = 'Waiting';
          break;
        default:
          // Waiting (the LC decides when a stage is Ready) or a type this version does not know.
          break;
      }

      if (nextType !== (latest?.type ?? '') || nextStage !== stage) {
        const now = timeString(deps.now());
        status.conditions = [
          ...conditions,
          { type: nextType, status: 'True', stage: nextStage, lastHeartbeatTime: now, lastTransitionTime: now },
        ];
        log.debug({ stage: nextStage, type: nextType }, 'stage transition');
      }
      if (Object.keys(status).length > 0) await writer.patchStatus(flavor.resource, job, status, signal);
      return {};
    },
  };

  /**
   * Merge-patches annotations that differ. Returns the patched job when its status is unchanged
   * (so a status patch may use its newer resourceVersion), else the job as read (its older version
   * makes the status patch fail with 409 instead of overwriting a report that arrived meanwhile).
   */
  async function annotate(job: KubeObject, want: Record<string, string>, signal: AbortSignal): Promise<KubeObject> {
    const diff = Object.fromEntries(Object.entries(want).filter(([k, v]) => job.metadata.annotations?.[k] !== v));
    if (Object.keys(diff).length === 0) return job;
    const out = await writer.patchAnnotations(flavor.resource, job, diff, signal);
    return stableJson(out.status) === stableJson(job.status) ? out : job;
  }
}
