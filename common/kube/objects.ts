/** The small shape of any Kubernetes object and resource type, and their paths and keys. */

export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Lowercase plural used in paths. */
  plural: string;
  kind: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** Any namespaced object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // biome-ignore lint/suspicious/noExplicitAny: spec and status differ per kind; reconcilers narrow them.
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: see spec.
  status?: any;
}

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `/api/v1/pods`, `/apis/apps/v1/namespaces/NS/deployments`, ... */
export function collectionPath(r: ResourceType, namespace?: string): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace ? `${root}/namespaces/${encodeURIComponent(namespace)}/${r.plural}` : `${root}/${r.plural}`;
}

export function objectPath(r: ResourceType, namespace: string, name: string, subresource?: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

/** Cache and queue key of a namespaced object. */
export function keyOf(obj: { metadata: ObjectMeta }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The controller owner reference, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((o) => o.controller === true);
}
