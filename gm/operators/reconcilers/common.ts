/** Helpers the reconcilers share: references, status comparison, condition construction. */

import type { Informer } from '../../../common/kube/informer.ts';
import { DependencyMissingError } from '../errors.ts';
import type { KubeObject } from '../resources.ts';
import { stableJson } from '../writer.ts';

/** The referenced object in `owner`'s namespace, or DependencyMissingError (retried; its arrival re-enqueues). */
export function mustGet(cache: Informer, kind: string, owner: KubeObject, name: string): KubeObject {
  const obj = cache.get(owner.metadata.namespace ?? '', name);
  if (!obj) throw new DependencyMissingError(kind, `${owner.metadata.namespace}/${name}`);
  return obj;
}

/** True when every field of `next` equals the same field of `cur` (fields not in `next` are not compared). */
export function statusUnchanged(cur: Record<string, unknown> | undefined, next: Record<string, unknown>): boolean {
  return Object.entries(next).every(([k, v]) => stableJson(cur?.[k]) === stableJson(v));
}

/** Pod phase helpers, as Sedna counts them. */
export function isActive(pod: KubeObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

export function phaseOf(pod: KubeObject | undefined): string {
  return pod?.status?.phase ?? 'Unknown';
}
