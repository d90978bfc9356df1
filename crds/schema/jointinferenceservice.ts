import type { V2HorizontalPodAutoscalerBehavior, V2MetricSpec } from '@kubernetes/client-node';
import { type Static, Type } from 'typebox';
import { Count, conditionFields, HardExampleMining, KeyValue, NameRef, PodTemplate, Time } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

/** Opaque in the CRD like pod templates: autoscaling/v2 types are large and validated by the HPA API. */
const opaque = <T>(description: string) =>
  Type.Unsafe<T>({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });

/** The HorizontalPodAutoscaler the GM creates for a worker's Deployment. */
export const Hpa = Type.Object(
  {
    minReplicas: Type.Optional(Type.Integer({ format: 'int32', description: 'Lower replica limit; default 1.' })),
    maxReplicas: Type.Integer({ format: 'int32', description: 'Upper replica limit.' }),
    metrics: Type.Optional(Type.Array(opaque<V2MetricSpec>('An autoscaling/v2 MetricSpec.'))),
    behavior: Type.Optional(opaque<V2HorizontalPodAutoscalerBehavior>('autoscaling/v2 scaling behavior.')),
  },
  { description: 'Autoscaling of this worker.' },
);
export type Hpa = Static<typeof Hpa>;

export const EdgeWorker = Type.Object(
  {
    model: NameRef,
    hardExampleMining: HardExampleMining,
    template: PodTemplate,
    hpa: Type.Optional(Hpa),
  },
  { description: 'Small model on the edge node; sends hard examples to the cloud worker.' },
);
export type EdgeWorker = Static<typeof EdgeWorker>;

export const CloudWorker = Type.Object(
  {
    model: NameRef,
    template: PodTemplate,
    hpa: Type.Optional(Hpa),
  },
  { description: 'Big model in the cloud; infers the hard examples.' },
);
export type CloudWorker = Static<typeof CloudWorker>;

export const JointInferenceServiceSpec = Type.Object({
  edgeWorker: EdgeWorker,
  cloudWorker: CloudWorker,
});
export type JointInferenceServiceSpec = Static<typeof JointInferenceServiceSpec>;

/** Condition types of a joint inference service. */
export const JOINT_INFERENCE_CONDITION_TYPES = ['Pending', 'Running', 'Failed'] as const;

export const JointInferenceServiceCondition = Type.Object({
  ...conditionFields,
  lastHeartbeatTime: Type.Optional(Time),
  lastTransitionTime: Type.Optional(Time),
});
export type JointInferenceServiceCondition = Static<typeof JointInferenceServiceCondition>;

export const JointInferenceServiceStatus = Type.Object({
  conditions: Type.Optional(Type.Array(JointInferenceServiceCondition)),
  startTime: Type.Optional(Time),
  active: Type.Optional(Count),
  failed: Type.Optional(Count),
  metrics: Type.Optional(Type.Array(KeyValue)),
});
export type JointInferenceServiceStatus = Static<typeof JointInferenceServiceStatus>;

export const jointInferenceServiceKind = defineKind({
  kind: 'JointInferenceService',
  plural: 'jointinferenceservices',
  shortNames: ['ji'],
  description: 'Edge-cloud collaborative inference: a small edge model that sends hard examples to a big cloud model.',
  spec: JointInferenceServiceSpec,
  status: JointInferenceServiceStatus,
  printerColumns: [
    { name: 'Status', type: 'string', jsonPath: '.status.conditions[-1:].type', description: 'Latest condition.' },
    { name: 'Active', type: 'integer', jsonPath: '.status.active' },
    { name: 'Failed', type: 'integer', jsonPath: '.status.failed' },
    { name: 'Edge-Node', type: 'string', jsonPath: '.spec.edgeWorker.template.spec.nodeName', priority: 1 },
    AGE_COLUMN,
  ],
});

export const JointInferenceService = jointInferenceServiceKind.schema;
export type JointInferenceService = Static<typeof JointInferenceService>;
