/**
 * `defineKind`: one call per kind turns its spec and status schemas into the whole object schema plus
 * everything the CRD needs (names, printer columns). Everything else (types, validators, YAML) derives
 * from what it returns.
 */
import { type Static, type TSchema, Type } from 'typebox';
import { API_VERSION, CATEGORIES } from '../constants.ts';
import { Time } from './common.ts';

const StringMap = Type.Record(Type.String(), Type.String());

/**
 * The metav1.ObjectMeta fields fedmesh reads. Other fields (managedFields, ...) pass through. The CRD
 * itself declares metadata only as `type: object`: the API server owns its schema.
 */
export const ObjectMeta = Type.Object({
  name: Type.Optional(Type.String()),
  generateName: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Time),
  deletionTimestamp: Type.Optional(Time),
  labels: Type.Optional(StringMap),
  annotations: Type.Optional(StringMap),
  finalizers: Type.Optional(Type.Array(Type.String())),
  ownerReferences: Type.Optional(
    Type.Array(
      Type.Object({
        apiVersion: Type.String(),
        kind: Type.String(),
        name: Type.String(),
        uid: Type.String(),
        controller: Type.Optional(Type.Boolean()),
        blockOwnerDeletion: Type.Optional(Type.Boolean()),
      }),
    ),
  ),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** One `additionalPrinterColumns` entry (apiextensions.k8s.io/v1 CustomResourceColumnDefinition). */
export interface PrinterColumn {
  /** Column header. */
  name: string;
  /** OpenAPI type of the value; `date` prints as an age. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** Simple JSONPath into the object, e.g. `.status.phase`. */
  jsonPath: string;
  description?: string;
  /** 0 (default) shows in `kubectl get`; higher only with `-o wide`. */
  priority?: number;
}

/** The usual last column. Listing any column replaces the API server's default Age, so it is repeated. */
export const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export interface KindInit<K extends string, Spec extends TSchema, Status extends TSchema> {
  /** CamelCase kind, e.g. `JointInferenceService`. */
  kind: K;
  /** Lowercase plural resource name, e.g. `jointinferenceservices`. */
  plural: string;
  /** Short names for kubectl; Sedna's own (ji, fl, il, ll) or none. */
  shortNames?: readonly string[];
  /** One sentence for `kubectl explain`. */
  description: string;
  spec: Spec;
  status: Status;
  printerColumns: readonly PrinterColumn[];
}

/** The object schema of a kind: TypeMeta, ObjectMeta, spec, optional status. */
function resourceSchema<K extends string, Spec extends TSchema, Status extends TSchema>(
  kind: K,
  spec: Spec,
  status: Status,
  description: string,
) {
  return Type.Object(
    {
      // Optional because Go clients (Sedna's GM and LC) often leave TypeMeta empty on the wire.
      apiVersion: Type.Optional(Type.Literal(API_VERSION)),
      kind: Type.Optional(Type.Literal(kind)),
      metadata: ObjectMeta,
      spec,
      status: Type.Optional(status),
    },
    { description },
  );
}

export type ResourceSchema<K extends string, Spec extends TSchema, Status extends TSchema> = ReturnType<
  typeof resourceSchema<K, Spec, Status>
>;

/** Everything known about one kind; the input of validators and of the CRD generator. */
export interface KindDefinition<
  K extends string = string,
  Spec extends TSchema = TSchema,
  Status extends TSchema = TSchema,
> {
  readonly kind: K;
  readonly listKind: string;
  readonly plural: string;
  /** Lowercase kind: the CRD's singular name and the `resourceKind` of the GM<->LC envelope. */
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly description: string;
  readonly printerColumns: readonly PrinterColumn[];
  readonly spec: Spec;
  readonly status: Status;
  /** The whole object: what validators check and what `Static<>` turns into the TS type. */
  readonly schema: ResourceSchema<K, Spec, Status>;
}

export function defineKind<K extends string, Spec extends TSchema, Status extends TSchema>(
  init: KindInit<K, Spec, Status>,
): KindDefinition<K, Spec, Status> {
  return {
    kind: init.kind,
    listKind: `${init.kind}List`,
    plural: init.plural,
    singular: init.kind.toLowerCase(),
    shortNames: init.shortNames ?? [],
    categories: CATEGORIES,
    description: init.description,
    printerColumns: init.printerColumns,
    spec: init.spec,
    status: init.status,
    schema: resourceSchema(init.kind, init.spec, init.status, init.description),
  };
}
