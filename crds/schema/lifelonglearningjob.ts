import { type Static, Type } from 'typebox';
import { PodTemplate, StageCondition, Time, TrainDataset, Trigger } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

export const LifelongLearningJobSpec = Type.Object({
  dataset: TrainDataset,
  trainSpec: Type.Object({ template: PodTemplate, trigger: Trigger }),
  evalSpec: Type.Object({ template: PodTemplate }),
  deploySpec: Type.Object({ template: PodTemplate }),
  credentialName: Type.Optional(Type.String({ description: 'Secret with the storage credentials for outputDir.' })),
  outputDir: Type.String({ description: 'Where the knowledge base and trained models are written.' }),
});
export type LifelongLearningJobSpec = Static<typeof LifelongLearningJobSpec>;

/** What the job's knowledge base holds; Sedna's JSON names, capitals included. */
export const KnowledgeBase = Type.Object({
  AIModels: Type.Object({
    numberOfAIModels: Type.Integer(),
    listOfAIModels: Type.Optional(
      Type.Array(
        Type.Object({
          modelID: Type.String(),
          averagePrecision: Type.Number(),
          numberOfTrainSamples: Type.Integer(),
        }),
      ),
    ),
  }),
  AIClasses: Type.Object({
    numberOfAIClasses: Type.Integer(),
    listOfAIClasses: Type.Optional(Type.Array(Type.String())),
  }),
  samples: Type.Object({
    numberOfLabeledUnseenSample: Type.Integer(),
    numberOfUnseenSample: Type.Integer(),
  }),
});
export type KnowledgeBase = Static<typeof KnowledgeBase>;

export const LifelongLearningJobStatus = Type.Object({
  conditions: Type.Optional(Type.Array(StageCondition)),
  knowledgeBase: Type.Optional(KnowledgeBase),
  startTime: Type.Optional(Time),
  completionTime: Type.Optional(Time),
});
export type LifelongLearningJobStatus = Static<typeof LifelongLearningJobStatus>;

export const lifelongLearningJobKind = defineKind({
  kind: 'LifelongLearningJob',
  plural: 'lifelonglearningjobs',
  shortNames: ['ll'],
  description:
    'Keeps learning from unseen samples at the edge with a growing knowledge base (Train -> Eval -> Deploy).',
  spec: LifelongLearningJobSpec,
  status: LifelongLearningJobStatus,
  printerColumns: [
    { name: 'Stage', type: 'string', jsonPath: '.status.conditions[-1:].stage', description: 'Current stage.' },
    { name: 'Status', type: 'string', jsonPath: '.status.conditions[-1:].type', description: 'State in the stage.' },
    AGE_COLUMN,
  ],
});

export const LifelongLearningJob = lifelongLearningJobKind.schema;
export type LifelongLearningJob = Static<typeof LifelongLearningJob>;
