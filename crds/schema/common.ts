/**
 * Field-level pieces shared by several Sedna kinds. Shapes and JSON names follow Sedna's Go types
 * (pkg/apis/sedna/v1alpha1) so that Sedna's manifests and the objects its GM and LC write validate
 * unchanged. Vocabulary (phases, stages) stays plain `string` in the schemas because Sedna's CRDs do
 * not enumerate it; the constant lists below are for code that produces those values.
 */
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { type Static, Type } from 'typebox';

/** metav1.Time on the wire: RFC 3339, UTC. */
export const Time = Type.String({ format: 'date-time' });

/** Sedna's `Metric` and `ParaSpec`: one string key and one string value. */
export const KeyValue = Type.Object({
  key: Type.String(),
  value: Type.String(),
});
export type KeyValue = Static<typeof KeyValue>;

/** A reference by name to a Dataset or Model in the same namespace. */
export const NameRef = Type.Object({
  name: Type.String({ description: 'Name of the referenced object in the same namespace.' }),
});
export type NameRef = Static<typeof NameRef>;

/**
 * A corev1.PodTemplateSpec. The CRD keeps it opaque (`x-kubernetes-preserve-unknown-fields`, as Sedna's
 * early CRDs did) so that every pod field of every Kubernetes version is accepted and stored as written;
 * the GM validates pods when it creates them. The TS type is client-node's model: times in it arrive as
 * strings, not Dates, but a template carries none in practice.
 */
export const PodTemplate = Type.Unsafe<V1PodTemplateSpec>({
  type: 'object',
  description: 'Pod template (corev1.PodTemplateSpec) of this worker.',
  'x-kubernetes-preserve-unknown-fields': true,
});
export type PodTemplate = Static<typeof PodTemplate>;

/** The hard example mining algorithm of an inference worker, e.g. `IBT` with thresholds. */
export const HardExampleMining = Type.Object({
  name: Type.String({ description: 'Algorithm name, e.g. IBT or CrossEntropy.' }),
  parameters: Type.Optional(Type.Array(KeyValue, { description: 'Algorithm parameters as strings.' })),
});
export type HardExampleMining = Static<typeof HardExampleMining>;

/** The dataset of an incremental or lifelong learning job and the share of it used for training. */
export const TrainDataset = Type.Object({
  name: Type.String({ description: 'Dataset name in the same namespace.' }),
  trainProb: Type.Number({ description: 'Fraction of samples used for training (the rest evaluates).' }),
});
export type TrainDataset = Static<typeof TrainDataset>;

/** When the LC starts a stage: every `checkPeriodSeconds` inside `timer`, once `condition` holds. */
export const Trigger = Type.Object({
  checkPeriodSeconds: Type.Optional(Type.Integer({ description: 'Seconds between two checks of the condition.' })),
  timer: Type.Optional(
    Type.Object(
      {
        start: Type.String({ description: 'Start of the daily window, HH:MM.' }),
        end: Type.String({ description: 'End of the daily window, HH:MM.' }),
      },
      { description: 'Daily time window in which the trigger may fire.' },
    ),
  ),
  condition: Type.Object({
    operator: Type.String({ description: 'Comparison, e.g. ">".' }),
    threshold: Type.Number(),
    metric: Type.String({ description: 'Metric compared, e.g. num_of_samples or precision_delta.' }),
  }),
});
export type Trigger = Static<typeof Trigger>;

/** `status` of every condition, as in corev1.ConditionStatus. */
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** Fields every Sedna condition has; the timestamps differ per kind and are added there. */
export const conditionFields = {
  type: Type.String({ description: 'Condition type.' }),
  status: Type.String({ description: 'True, False or Unknown.' }),
  reason: Type.Optional(Type.String({ description: 'One-word CamelCase reason of the last transition.' })),
  message: Type.Optional(Type.String({ description: 'Human readable details of the last transition.' })),
};

/** Stages of incremental and lifelong learning jobs, in order. */
export const STAGES = ['Train', 'Eval', 'Deploy'] as const;
export type Stage = (typeof STAGES)[number];

/** Condition types of a stage; the LC moves Waiting -> Ready, the GM the rest. */
export const STAGE_CONDITION_TYPES = ['Waiting', 'Ready', 'Starting', 'Running', 'Completed', 'Failed'] as const;
export type StageConditionType = (typeof STAGE_CONDITION_TYPES)[number];

/** A condition of an incremental or lifelong learning job: one step of its stage state machine. */
export const StageCondition = Type.Object({
  ...conditionFields,
  stage: Type.String({ description: 'Train, Eval or Deploy.' }),
  lastHeartbeatTime: Type.Optional(Time),
  lastTransitionTime: Type.Optional(Time),
  data: Type.Optional(Type.String({ description: 'JSON document the stage reported (e.g. model URLs).' })),
});
export type StageCondition = Static<typeof StageCondition>;

/** Counts a job controller keeps in status, as in Sedna (int32). */
export const Count = Type.Integer({ format: 'int32' });
