import { type Static, Type } from 'typebox';
import { Count, conditionFields, NameRef, PodTemplate, Time } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

export const AggregationWorker = Type.Object(
  {
    model: NameRef,
    template: PodTemplate,
  },
  { description: "Aggregates the training workers' model updates; runs in the cloud." },
);
export type AggregationWorker = Static<typeof AggregationWorker>;

export const TrainingWorker = Type.Object({
  dataset: NameRef,
  template: PodTemplate,
});
export type TrainingWorker = Static<typeof TrainingWorker>;

/** How training workers and the aggregation worker exchange weights; websocket when empty. */
export const Transmitter = Type.Object(
  {
    s3: Type.Optional(
      Type.Object({
        aggDataPath: Type.String({ description: 'S3 path where aggregation data is exchanged.' }),
        credentialName: Type.Optional(Type.String()),
      }),
    ),
    ws: Type.Optional(Type.Object({}, { description: 'Websocket through the aggregation Service.' })),
  },
  { description: 'Data plane between training and aggregation workers.' },
);
export type Transmitter = Static<typeof Transmitter>;

export const FederatedLearningJobSpec = Type.Object({
  aggregationWorker: AggregationWorker,
  trainingWorkers: Type.Array(TrainingWorker, { description: 'One training pod per entry, next to its dataset.' }),
  pretrainedModel: Type.Optional(NameRef),
  transmitter: Type.Optional(Transmitter),
});
export type FederatedLearningJobSpec = Static<typeof FederatedLearningJobSpec>;

/** Values of `status.phase`. */
export const FEDERATED_LEARNING_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
/**
 * Condition types of a federated learning job: Sedna's three, and fedmesh's `Pending` (reason
 * `PodCreationFailed`: the API server refused a worker for what the cluster lacks; retried, not final).
 */
export const FEDERATED_LEARNING_CONDITION_TYPES = ['Training', 'Complete', 'Failed', 'Pending'] as const;

export const FederatedLearningJobCondition = Type.Object({
  ...conditionFields,
  lastProbeTime: Type.Optional(Time),
  lastHeartbeatTime: Type.Optional(Time),
});
export type FederatedLearningJobCondition = Static<typeof FederatedLearningJobCondition>;

export const FederatedLearningJobStatus = Type.Object({
  conditions: Type.Optional(Type.Array(FederatedLearningJobCondition)),
  startTime: Type.Optional(Time),
  completionTime: Type.Optional(Time),
  active: Type.Optional(Count),
  succeeded: Type.Optional(Count),
  failed: Type.Optional(Count),
  phase: Type.Optional(Type.String({ description: 'Pending, Running, Succeeded or Failed.' })),
});
export type FederatedLearningJobStatus = Static<typeof FederatedLearningJobStatus>;

export const federatedLearningJobKind = defineKind({
  kind: 'FederatedLearningJob',
  plural: 'federatedlearningjobs',
  shortNames: ['fl'],
  description: 'Federated training: workers train on local data and share only model updates with an aggregator.',
  spec: FederatedLearningJobSpec,
  status: FederatedLearningJobStatus,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Active', type: 'integer', jsonPath: '.status.active' },
    { name: 'Succeeded', type: 'integer', jsonPath: '.status.succeeded' },
    { name: 'Failed', type: 'integer', jsonPath: '.status.failed' },
    AGE_COLUMN,
  ],
});

export const FederatedLearningJob = federatedLearningJobKind.schema;
export type FederatedLearningJob = Static<typeof FederatedLearningJob>;
