/**
 * IncrementalLearningJob on the LC (Sedna's managers/incrementallearning), over stagejob.ts:
 *
 * - Train input: the initial Model for round 1, then the newest Train/Completed output model of the
 *   initial model's format (the initial model again if none was reported).
 * - Eval input: [trained model, eval model] — the eval model is `evalSpec.initialEvalModel`, else
 *   the deploy Model; the trained one is the Train/Completed output model of its format.
 * - Deploy/Waiting: the deploy trigger on the Eval/Completed metrics of [trained, deployed]: each
 *   metric `m` and `m_delta` (new - old, per element). Holds: report `deploy ready` with
 *   [trained, deploy model] — without hot update the trained model is first copied over the deploy
 *   Model's file (`deploy failed` if that copy fails). Does not hold: `deploy completed` (nothing to
 *   deploy, Sedna's answer too), and Train waits again.
 * - Deploy/Running with `hotUpdateEnabled`: the trained model is copied beside the config file the
 *   GM named in `sedna.io/model-hot-update-config` (under /var/lib/sedna/model-hot-update) and over
 *   the deploy Model, and the config `{"model_config": {"model_path", "model_update_time"}}` is
 *   rewritten; the inference worker polls it every `pollPeriodSeconds`, reloads, and reports
 *   `deploy completed`.
 */
import { dirname } from 'node:path';
import {
  createStageJobManager,
  type JobView,
  type StageFlavor,
  type StageJobManager,
  type StageJobManagerInit,
  StageWaitError,
} from './stagejob.ts';
import {
  conditionModels,
  HOT_UPDATE_ANNOTATION,
  hotUpdateTarget,
  type JobObject,
  type ModelRef,
  modelOf,
  ref,
  sameFormat,
  type UpstreamStatus,
} from './stagejob-io.ts';
import { parseTrigger } from './trigger.ts';
import type { ManagerContext } from './types.ts';

interface IlSpec {
  initialModel?: { name?: string };
  evalSpec?: { initialEvalModel?: { name?: string } };
  deploySpec?: { model?: { name?: string; hotUpdateEnabled?: boolean }; trigger?: unknown };
}

const specOf = (v: JobView) => v.job.spec as IlSpec;

function model(ctx: ManagerContext, v: JobView, name: string | undefined, what: string): ModelRef {
  const m = modelOf(ctx, v.namespace, name);
  if (!m) throw new StageWaitError(`${what} Model ${name ?? '(unnamed)'} not on this node`);
  return m;
}

const deployModel = (ctx: ManagerContext, v: JobView) => model(ctx, v, specOf(v).deploySpec?.model?.name, 'deploy');

function evalModel(ctx: ManagerContext, v: JobView): ModelRef {
  const initial = specOf(v).evalSpec?.initialEvalModel?.name;
  return initial ? model(ctx, v, initial, 'initial eval') : deployModel(ctx, v);
}

/** The newest trained model of `like`'s format. */
function trained(v: JobView, like: ModelRef): ModelRef {
  const m = sameFormat(conditionModels(v.conds, 'Train', 'Completed', 'output'), like);
  if (!m?.url) throw new StageWaitError(`no trained model of format ${like.format} reported yet`);
  return m;
}

/** `{m: [...], m_delta: [...]}` from the metrics of the new and the old model (Sedna's triggerDeployTask). */
export function metricDeltas(newer: Record<string, unknown>, older: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const nums = (v: unknown) => (Array.isArray(v) ? v.map(Number) : [Number(v)]);
  for (const [k, v] of Object.entries(newer)) {
    out[k] = v;
    const a = nums(v);
    const b = nums(older[k]);
    const d = a.map((x, i) => x - (b[i] ?? Number.NaN));
    out[`${k}_delta`] = Array.isArray(v) ? d : d[0];
  }
  return out;
}

/** Whether the deploy trigger holds on the latest evaluation of [trained, deployed]. */
function deployWanted(v: JobView, now: Date): boolean {
  const results = conditionModels(v.conds, 'Eval', 'Completed', 'output');
  if (results?.length !== 2) return false;
  const [newer, older] = results as [ModelRef, ModelRef];
  const stats = metricDeltas(newer.metrics ?? {}, older.metrics ?? {});
  return parseTrigger(specOf(v).deploySpec?.trigger ?? {}).holds(stats, now);
}

export const incrementalFlavor: StageFlavor = {
  kind: 'IncrementalLearningJob',
  sednaKind: 'incrementallearningjob',

  trainModels(v, ctx) {
    const initial = model(ctx, v, specOf(v).initialModel?.name, 'initial');
    if (v.rounds < 1) return [ref(initial)];
    const last = sameFormat(conditionModels(v.conds, 'Train', 'Completed', 'output'), initial);
    return [ref(last?.url ? last : initial)];
  },

  evalInput(v, ctx) {
    const reference = evalModel(ctx, v);
    return { models: [ref(trained(v, reference)), ref(reference)] };
  },

  deploy(v, ctx, files, now): UpstreamStatus {
    const target = deployModel(ctx, v);
    if (!deployWanted(v, now)) return { phase: 'deploy', status: 'completed' };
    const fresh = trained(v, target);
    const input = { models: [ref(fresh), ref(target)] };
    if (specOf(v).deploySpec?.model?.hotUpdateEnabled) return { phase: 'deploy', status: 'ready', input };
    try {
      if (!files.copyModel(fresh.url ?? '', target.url ?? '')) throw new Error('model is not a local path');
      const initialEval = specOf(v).evalSpec?.initialEvalModel?.name;
      if (initialEval) {
        const evalRef = model(ctx, v, initialEval, 'initial eval');
        files.copyModel(trained(v, evalRef).url ?? '', evalRef.url ?? '');
      }
    } catch (err) {
      if (err instanceof StageWaitError) throw err;
      return { phase: 'deploy', status: 'failed', input };
    }
    return { phase: 'deploy', status: 'ready', input };
  },

  hotUpdate(v, ctx, files, now) {
    const configFile = v.job.metadata.annotations?.[HOT_UPDATE_ANNOTATION];
    if (!configFile) throw new StageWaitError(`annotation ${HOT_UPDATE_ANNOTATION} not set by the GM yet`);
    const target = deployModel(ctx, v);
    const fresh = trained(v, target);
    const url = fresh.url ?? '';
    const dest = hotUpdateTarget(configFile, url);
    if (!files.copyModel(url, dest.nodeFile)) throw new StageWaitError('trained model is not a local path');
    files.copyModel(url, target.url ?? '');
    files.writeHotUpdateConfig(configFile, dest.containerFile, now);
  },

  cleanup(job: JobObject, files) {
    const configFile = job.metadata.annotations?.[HOT_UPDATE_ANNOTATION];
    if (configFile) files.removeDir(dirname(configFile));
  },
};

/** The `incrementallearningjob` manager. */
export function createIncrementalManager(ctx: ManagerContext, init?: StageJobManagerInit): StageJobManager {
  return createStageJobManager(incrementalFlavor, ctx, init);
}
