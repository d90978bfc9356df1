import type { Kind } from '../common/wire/kinds.ts';
import { type Dataset, datasetKind } from './schema/dataset.ts';
import type { KindDefinition } from './schema/define.ts';
import { type FederatedLearningJob, federatedLearningJobKind } from './schema/federatedlearningjob.ts';
import { type IncrementalLearningJob, incrementalLearningJobKind } from './schema/incrementallearningjob.ts';
import { type JointInferenceService, jointInferenceServiceKind } from './schema/jointinferenceservice.ts';
import { type LifelongLearningJob, lifelongLearningJobKind } from './schema/lifelonglearningjob.ts';
import { type Model, modelKind } from './schema/model.ts';

/** The six core Sedna kinds; Dataset and Model first because the others reference them. */
export const KINDS = [
  datasetKind,
  modelKind,
  jointInferenceServiceKind,
  federatedLearningJobKind,
  incrementalLearningJobKind,
  lifelongLearningJobKind,
] as const;

export type KindName = (typeof KINDS)[number]['kind'];

// The kinds are listed once, in common/wire/kinds.ts; this fails to compile if a schema is missing
// here or one is defined that the wire does not carry.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<KindName, Kind>;

/** The TS type of each kind's object. */
export interface Resources {
  Dataset: Dataset;
  Model: Model;
  JointInferenceService: JointInferenceService;
  FederatedLearningJob: FederatedLearningJob;
  IncrementalLearningJob: IncrementalLearningJob;
  LifelongLearningJob: LifelongLearningJob;
}

/** Any core Sedna object. */
export type SednaResource = Resources[KindName];

const byKind = new Map<string, KindDefinition>(KINDS.map((k) => [k.kind, k]));
const bySingular = new Map<string, KindDefinition>(KINDS.map((k) => [k.singular, k]));

export function isKindName(kind: string): kind is KindName {
  return byKind.has(kind);
}

/** The definition of `kind`. */
export function kindDefinition(kind: KindName): KindDefinition {
  return byKind.get(kind) as KindDefinition;
}

/**
 * The kind named by a GM<->LC envelope's `resourceKind` (lowercase in Sedna, but LCs may send any
 * case), or undefined for kinds fedmesh does not serve.
 */
export function kindForResourceKind(resourceKind: string): KindDefinition | undefined {
  return bySingular.get(resourceKind.toLowerCase());
}
