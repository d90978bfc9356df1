/**
 * The shapes the hub reads from Sedna objects, and their keys. Objects are plain JSON as the API
 * server returns them; the hub reads only the few fields routing and status writes need.
 */
import type { Kind } from '../wire/index.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  annotations?: Record<string, string>;
}

/** A Sedna custom resource as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

/** `Kind/namespace/name`: one object of one kind, the unit of routing, coalescing and serialised writes. */
export type ObjectKey = string;

export function objectKey(kind: Kind, namespace: string, name: string): ObjectKey {
  return `${kind}/${namespace}/${name}`;
}

export function parseKey(key: ObjectKey): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split('/') as [Kind, string, string];
  return { kind, namespace, name };
}

/** Reads `obj.a.b.c` through unknown JSON without throwing. */
export function path(obj: unknown, ...keys: Array<string | number>): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
