/**
 * LifelongLearningJob on the LC (Sedna's managers/lifelonglearning), over stagejob.ts:
 *
 * - Train input: no models (the train worker reads the knowledge base), the round's samples and
 *   `<outputDir>/train/<round>`.
 * - Eval input: the models the newest Train/Completed reported (the knowledge base index) and
 *   `<outputDir>/eval/<round>`.
 * - Deploy/Waiting: the first model of the newest Eval/Completed output is copied to
 *   `<outputDir>/deploy/index.pkl` (what the GM's inference worker reads) and `deploy ready` is
 *   reported with it; none reported: `deploy completed`.
 *
 * `status.knowledgeBase` is not the LC's: Sedna's GM derives it from the worker reports' output
 * models (`classes`, `current_metric`, `number_of_labeled_unseen_sample`), which the LC forwards whole;
 * so does fedmesh's hub (common/sedna/stage-data.ts).
 */

import {
  createStageJobManager,
  type JobView,
  type StageFlavor,
  type StageJobManager,
  type StageJobManagerInit,
  StageWaitError,
} from './stagejob.ts';
import { conditionModels, type ModelRef, outputPaths, ref, type UpstreamStatus } from './stagejob-io.ts';
import type { ManagerContext } from './types.ts';

function outputRoot(v: JobView): string {
  const out = outputPaths(v.job);
  if (!out) throw new StageWaitError('outputDir is not a local path (object storage not supported yet)');
  return out.root;
}

function reported(v: JobView, stage: 'Train' | 'Eval'): ModelRef[] {
  const models = conditionModels(v.conds, stage, 'Completed', 'output');
  if (!models?.length) throw new StageWaitError(`no ${stage} output models reported yet`);
  return models;
}

export const lifelongFlavor: StageFlavor = {
  kind: 'LifelongLearningJob',
  sednaKind: 'lifelonglearningjob',

  trainModels: () => [],

  evalInput(v) {
    return { models: reported(v, 'Train'), outputDir: `${outputRoot(v)}/eval/${Math.max(v.rounds, 1)}` };
  },

  deploy(v, _ctx, files): UpstreamStatus {
    const models = conditionModels(v.conds, 'Eval', 'Completed', 'output');
    const first = models?.[0];
    if (!first?.url) return { phase: 'deploy', status: 'completed' };
    if (!files.copyModel(first.url, `${outputRoot(v)}/deploy/index.pkl`)) {
      throw new StageWaitError('evaluated knowledge base is not a local path');
    }
    return { phase: 'deploy', status: 'ready', input: { models: [ref(first)] } };
  },
};

/** The `lifelonglearningjob` manager. */
export function createLifelongManager(ctx: ManagerContext, init?: StageJobManagerInit): StageJobManager {
  return createStageJobManager(lifelongFlavor, ctx, init);
}
