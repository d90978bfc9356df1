/** Sedna's naming, labels, owner references and condition helpers, shared by every reconciler. */
import { createHash } from 'node:crypto';
import { API_VERSION, GROUP } from '../../crds/constants.ts';
import type { KubeObject, OwnerReference } from './resources.ts';

/** `<kind lowercase>.sedna.io/name`, `/uid` and (for one worker) `/worker-type` (lowercase), as Sedna's generateLabels. */
export function sednaLabels(kind: string, obj: KubeObject, workerType?: string): Record<string, string> {
  const prefix = `${kind}.${GROUP}/`.toLowerCase();
  const labels: Record<string, string> = {
    [`${prefix}name`]: obj.metadata.name,
    [`${prefix}uid`]: obj.metadata.uid ?? '',
  };
  if (workerType) labels[`${prefix}worker-type`] = workerType.toLowerCase();
  return labels;
}

/** The label whose presence selects every object a CR of `kind` owns (informer selectors). */
export function uidLabel(kind: string): string {
  return `${kind}.${GROUP}/uid`.toLowerCase();
}

export function workerTypeLabel(kind: string): string {
  return `${kind}.${GROUP}/worker-type`.toLowerCase();
}

/** metav1.NewControllerRef: the controller owner reference that makes the GC delete dependents with the CR. */
export function controllerRef(kind: string, obj: KubeObject): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind,
    name: obj.metadata.name,
    uid: obj.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Sedna names workers `cloudworker-` + 5 random characters. A random suffix would make every
 * reconcile produce a different object; this one is derived from the owner's uid, so it is as
 * unique per object and the same on every replica and every run.
 */
export function stableSuffix(...parts: string[]): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const h = createHash('sha256').update(parts.join('\0')).digest();
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[(h[i] as number) % alphabet.length];
  return s;
}

/** metav1.Now() as Go serialises it: RFC 3339 with whole seconds. */
export { kubeTime as timeString } from '../../common/kube/time.ts';

/** Sedna's ConvertK8SValidName: lowercase RFC 1123 label, separators collapsed, max 63, no trailing '-'. */
export function k8sValidName(name: string): string {
  let out = '';
  for (const c of name.toLowerCase()) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c === '-') {
      out += c;
      continue;
    }
    if (out.length > 0 && !out.endsWith('-')) out += '-';
  }
  out = out.slice(0, 63);
  if (out.endsWith('-')) out = `${out.slice(0, -1)}z`;
  return out;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  [k: string]: unknown;
}

/** The type of the last condition (Sedna appends, never edits, so the last one is the current state). */
export function latestType(conditions: Condition[] | undefined): string {
  return conditions?.at(-1)?.type ?? '';
}

/** True when a condition of one of `types` has status True. */
export function hasTrue(conditions: Condition[] | undefined, ...types: string[]): boolean {
  return (conditions ?? []).some((c) => types.includes(c.type) && c.status === 'True');
}
