import { type Static, Type } from 'typebox';
import { DEFAULT_MODEL_POLL_PERIOD_SECONDS } from '../constants.ts';
import { HardExampleMining, NameRef, PodTemplate, StageCondition, Time, TrainDataset, Trigger } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

export const DeployModel = Type.Object({
  name: Type.String({ description: 'Model the inference worker serves; the job updates it after Eval.' }),
  hotUpdateEnabled: Type.Optional(Type.Boolean({ description: 'Reload the model without restarting the pod.' })),
  pollPeriodSeconds: Type.Optional(
    Type.Integer({
      format: 'int64',
      minimum: 1,
      default: DEFAULT_MODEL_POLL_PERIOD_SECONDS,
      description: 'Seconds between checks for a new model when hotUpdateEnabled.',
    }),
  ),
});
export type DeployModel = Static<typeof DeployModel>;

export const IncrementalLearningJobSpec = Type.Object({
  dataset: TrainDataset,
  initialModel: NameRef,
  trainSpec: Type.Object({ template: PodTemplate, trigger: Trigger }),
  evalSpec: Type.Object({
    initialEvalModel: Type.Optional(NameRef),
    template: PodTemplate,
  }),
  deploySpec: Type.Object({
    model: DeployModel,
    trigger: Trigger,
    hardExampleMining: HardExampleMining,
    template: PodTemplate,
  }),
  credentialName: Type.Optional(Type.String({ description: 'Secret with the storage credentials for outputDir.' })),
  outputDir: Type.String({ description: 'Where trained models and evaluation results are written.' }),
});
export type IncrementalLearningJobSpec = Static<typeof IncrementalLearningJobSpec>;

export const IncrementalLearningJobStatus = Type.Object({
  conditions: Type.Optional(Type.Array(StageCondition)),
  startTime: Type.Optional(Time),
  completionTime: Type.Optional(Time),
});
export type IncrementalLearningJobStatus = Static<typeof IncrementalLearningJobStatus>;

export const incrementalLearningJobKind = defineKind({
  kind: 'IncrementalLearningJob',
  plural: 'incrementallearningjobs',
  shortNames: ['il'],
  description: 'Retrains a deployed model on new samples (Train -> Eval -> Deploy) whenever its triggers fire.',
  spec: IncrementalLearningJobSpec,
  status: IncrementalLearningJobStatus,
  printerColumns: [
    { name: 'Stage', type: 'string', jsonPath: '.status.conditions[-1:].stage', description: 'Current stage.' },
    { name: 'Status', type: 'string', jsonPath: '.status.conditions[-1:].type', description: 'State in the stage.' },
    AGE_COLUMN,
  ],
});

export const IncrementalLearningJob = incrementalLearningJobKind.schema;
export type IncrementalLearningJob = Static<typeof IncrementalLearningJob>;
