/**
 * The six core Sedna CRDs (sedna.io/v1alpha1), each defined once in TypeBox (schema/*.ts). From that one
 * definition come the TS types, the validators used on the wire, and the CRD YAML (generate.ts).
 */
export { API_VERSION, CATEGORIES, GROUP, VERSION } from './constants.ts';
export { crdFileName, crdJson, crdManifest, crdYaml } from './crd.ts';
export { installCrds } from './install.ts';
export {
  isKindName,
  KINDS,
  type KindName,
  kindDefinition,
  kindForResourceKind,
  type Resources,
  type SednaResource,
} from './kinds.ts';
export {
  CONDITION_STATUSES,
  type ConditionStatus,
  type HardExampleMining,
  type KeyValue,
  type NameRef,
  type PodTemplate,
  STAGE_CONDITION_TYPES,
  STAGES,
  type Stage,
  type StageCondition,
  type StageConditionType,
  type TrainDataset,
  type Trigger,
} from './schema/common.ts';
export { Dataset, type DatasetSpec, type DatasetStatus } from './schema/dataset.ts';
export type { KindDefinition, ObjectMeta, PrinterColumn } from './schema/define.ts';
export {
  FEDERATED_LEARNING_CONDITION_TYPES,
  FEDERATED_LEARNING_PHASES,
  FederatedLearningJob,
  type FederatedLearningJobCondition,
  type FederatedLearningJobSpec,
  type FederatedLearningJobStatus,
} from './schema/federatedlearningjob.ts';
export {
  IncrementalLearningJob,
  type IncrementalLearningJobSpec,
  type IncrementalLearningJobStatus,
} from './schema/incrementallearningjob.ts';
export {
  JOINT_INFERENCE_CONDITION_TYPES,
  JointInferenceService,
  type JointInferenceServiceCondition,
  type JointInferenceServiceSpec,
  type JointInferenceServiceStatus,
} from './schema/jointinferenceservice.ts';
export {
  type KnowledgeBase,
  LifelongLearningJob,
  type LifelongLearningJobSpec,
  type LifelongLearningJobStatus,
} from './schema/lifelonglearningjob.ts';
export { Model, type ModelSpec, type ModelStatus } from './schema/model.ts';
export {
  formatIssue,
  InvalidResourceError,
  parseResource,
  type ValidationIssue,
  type ValidationResult,
  validate,
  validateDataset,
  validateFederatedLearningJob,
  validateIncrementalLearningJob,
  validateJointInferenceService,
  validateLifelongLearningJob,
  validateModel,
} from './validate.ts';
