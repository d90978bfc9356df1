/**
 * The resource kinds both dialects carry. Sedna spells them lowercase on the wire; fedmesh uses the
 * Kubernetes Kind so a frame's `kind` equals the `kind` field of the object it carries.
 */

/**
 * Kubernetes Kinds (group sedna.io, v1alpha1) the protocols carry, in fedmesh spelling: the one list
 * of Sedna kinds, Dataset and Model first (the others reference them). crds/kinds.ts defines a
 * schema for each (checked there); the operators' resources and primaries and Sedna's lowercase
 * names derive from it.
 */
export const KINDS = [
  'Dataset',
  'Model',
  'JointInferenceService',
  'FederatedLearningJob',
  'IncrementalLearningJob',
  'LifelongLearningJob',
] as const;
export type Kind = (typeof KINDS)[number];

/** The same kinds as Sedna's `resourceKind`: the Kind in lowercase, index-aligned with KINDS. */
export type SednaKind = Lowercase<Kind>;
export const SEDNA_KINDS: readonly SednaKind[] = KINDS.map((k) => k.toLowerCase() as SednaKind);

const toSedna = new Map<string, SednaKind>(KINDS.map((k, i) => [k, SEDNA_KINDS[i] as SednaKind]));
const fromSedna = new Map<string, Kind>(SEDNA_KINDS.map((k, i) => [k, KINDS[i] as Kind]));

/** `JointInferenceService` → `jointinferenceservice`. */
export function sednaKindOf(kind: Kind): SednaKind {
  return toSedna.get(kind) as SednaKind;
}

/** `jointinferenceservice` → `JointInferenceService`. */
export function kindOfSedna(kind: SednaKind): Kind {
  return fromSedna.get(kind) as Kind;
}

export function isKind(value: string): value is Kind {
  return toSedna.has(value);
}

export function isSednaKind(value: string): value is SednaKind {
  return fromSedna.has(value);
}
