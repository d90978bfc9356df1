/**
 * CustomResourceDefinitions generated from the TypeBox schemas. The openAPIV3Schema must be structural
 * (every node typed, no unions or refs, metadata left to the API server), so the conversion keeps the
 * keywords Kubernetes understands and throws on anything else rather than silently dropping a rule.
 */
import { dumpYaml, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { GENERATED_HEADER, GROUP, VERSION } from './constants.ts';
import { type KindName, kindDefinition } from './kinds.ts';
import type { KindDefinition } from './schema/define.ts';

type Json = Record<string, unknown>;

/** Keywords copied unchanged into the CRD schema. */
const PASSTHROUGH = new Set([
  'type',
  'description',
  'format',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'nullable',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

/** A TypeBox (JSON Schema) node as an OpenAPI v3 node of a structural CRD schema, in wire form. */
export function toStructural(schema: Json, path = ''): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (PASSTHROUGH.has(key)) out[key] = value;
    else if (key === 'properties') {
      const props = Object.entries(value as Record<string, Json>);
      if (props.length > 0)
        out.properties = Object.fromEntries(props.map(([k, v]) => [k, toStructural(v, `${path}.${k}`)]));
    } else if (key === 'required') {
      if ((value as string[]).length > 0) out.required = [...(value as string[])].sort();
    } else if (key === 'items') out.items = toStructural(value as Json, `${path}[]`);
    else throw new Error(`crds: keyword "${key}" at ${path || '.'} cannot be expressed in a structural CRD schema`);
  }
  if (out.type === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    throw new Error(`crds: schema at ${path || '.'} has no type; structural CRD schemas need one`);
  }
  return out;
}

/** The CRD of one kind in wire form (what `kubectl apply -f` sends). */
function crdObject(def: KindDefinition): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        ...(def.shortNames.length > 0 ? { shortNames: [...def.shortNames] } : {}),
        categories: [...def.categories],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: def.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: `${GROUP}/${VERSION}` },
                kind: { type: 'string', description: def.kind },
                metadata: { type: 'object' },
                spec: toStructural(def.spec as Json, '.spec'),
                status: toStructural(def.status as Json, '.status'),
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * The CustomResourceDefinition of `kind`, as client-node's model (for ApiextensionsV1Api and dumpYaml).
 * client-node keeps nested `items` schemas in wire form but renames typed fields (`x-kubernetes-...` to
 * `x_kubernetes_...`); going through its own deserializer gets both right.
 */
export function crdManifest(kind: KindName): V1CustomResourceDefinition {
  return loadYaml<V1CustomResourceDefinition>(JSON.stringify(crdObject(kindDefinition(kind))));
}

/** The CRD of `kind` as plain wire-form JSON (`x-kubernetes-...` keys), for raw REST clients and server-side apply. */
export function crdJson(kind: KindName): Record<string, unknown> {
  return crdObject(kindDefinition(kind)) as Record<string, unknown>;
}

/** File name of the generated CRD of `kind`, relative to crds/: `sedna.io_<plural>.yaml`. */
export function crdFileName(kind: KindName): string {
  return `${GROUP}_${kindDefinition(kind).plural}.yaml`;
}

/** The generated YAML file of `kind`: keys sorted, so the output depends only on the schemas. */
export function crdYaml(kind: KindName): string {
  return GENERATED_HEADER + dumpYaml(crdManifest(kind), { sortKeys: true, noRefs: true, lineWidth: -1 });
}
