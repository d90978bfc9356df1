/**
 * Which nodes a Sedna object is for (sedna-wire notes, "Which node gets which object"), and the
 * per-node label that says so on the object. The GM hub routes downstream frames with these
 * functions; the GM leader's target labeler writes the labels from the same routes; an LC in
 * fallback selects its objects by its label. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { Kind } from '../wire/index.ts';
import { type KubeObject, path, str } from './objects.ts';

/** Annotations IL/LL jobs carry with the node of each stage (Sedna's runtime.AnnotationsKeyPrefix + stage). */
export const STAGE_NODE_ANNOTATIONS = ['sedna.io/Train', 'sedna.io/Eval', 'sedna.io/Deploy'] as const;

/** Prefix of the per-node target labels: `targets.fedmesh.io/<node>`. */
export const TARGET_LABEL_PREFIX = 'targets.fedmesh.io/';
/** Value of every target label (only the key carries information; selectors test for existence). */
export const TARGET_LABEL_VALUE = 'true';
/** Longest label name (the part after the prefix) Kubernetes accepts. */
const MAX_LABEL_NAME = 63;

/**
 * The label that marks an object as targeted at `node`. A node name is a DNS subdomain, so one of
 * at most 63 characters is a valid label name as it is. A longer one becomes `h_` and 56 hex
 * digits of its SHA-256: `_` never occurs in a node name, so a hashed key cannot equal a real
 * node's key. (The status admission policy cannot compute the hash: such nodes can read in fallback
 * but not write status; docs/lc.md.)
 */
export function targetLabel(node: string): string {
  if (node.length <= MAX_LABEL_NAME) return TARGET_LABEL_PREFIX + node;
  return `${TARGET_LABEL_PREFIX}h_${createHash('sha256').update(node).digest('hex').slice(0, 56)}`;
}

/** The label selector for `node`'s objects: the label exists (any value). */
export function targetSelector(node: string): string {
  return targetLabel(node);
}

/** True when the object carries any target label: the labeler has seen it. */
export function isLabelled(labels: Record<string, string> | undefined): boolean {
  return labels !== undefined && Object.keys(labels).some((k) => k.startsWith(TARGET_LABEL_PREFIX));
}

/** True when `labels` mark the object as targeted at `node`. */
export function isTargeted(labels: Record<string, string> | undefined, node: string): boolean {
  return labels !== undefined && Object.hasOwn(labels, targetLabel(node));
}

/** Read access to the current objects (the hub's cache, the labeler's informers). */
export interface ObjectLookup {
  get(kind: Kind, namespace: string, name: string): KubeObject | undefined;
}

/** The node(s) of a Dataset, JointInferenceService, FederatedLearningJob, IL or LL job. Models: see `createRouter`. */
export function directTargets(kind: Kind, obj: KubeObject, lookup: ObjectLookup): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => {
    const s = str(v);
    if (s !== undefined) out.add(s);
  };
  switch (kind) {
    case 'Dataset':
      add(path(obj, 'spec', 'nodeName'));
      break;
    case 'JointInferenceService':
      add(path(obj, 'spec', 'edgeWorker', 'template', 'spec', 'nodeName'));
      break;
    case 'FederatedLearningJob': {
      const workers = path(obj, 'spec', 'trainingWorkers');
      if (Array.isArray(workers)) for (const w of workers) add(path(w, 'template', 'spec', 'nodeName'));
      break;
    }
    case 'IncrementalLearningJob':
    case 'LifelongLearningJob': {
      if (!jobIsActive(kind, obj)) break;
      add(datasetNode(obj, lookup));
      const ann = obj.metadata.annotations ?? {};
      for (const a of STAGE_NODE_ANNOTATIONS) add(ann[a]);
      // Sedna's LL controller sends the job to its training template's node.
      if (kind === 'LifelongLearningJob') add(path(obj, 'spec', 'trainSpec', 'template', 'spec', 'nodeName'));
      break;
    }
    case 'Model':
      break;
  }
  return out;
}

/**
 * Sedna's GM sends an IncrementalLearningJob only once its controller wrote the first condition (the
 * LC needs the stage to act on); stock LCs rely on that.
 */
export function jobIsActive(kind: Kind, obj: KubeObject): boolean {
  if (kind !== 'IncrementalLearningJob') return true;
  const conds = path(obj, 'status', 'conditions');
  return Array.isArray(conds) && conds.length > 0;
}

/** The node of the Dataset an IL/LL job reads, if that Dataset exists. */
export function datasetNode(job: KubeObject, lookup: ObjectLookup): string | undefined {
  const ds = str(path(job, 'spec', 'dataset', 'name'));
  if (ds === undefined) return undefined;
  const obj = lookup.get('Dataset', job.metadata.namespace ?? '', ds);
  return obj === undefined ? undefined : str(path(obj, 'spec', 'nodeName'));
}

/** Models an IncrementalLearningJob pushes to its dataset's node (initial, eval and deploy models). */
export function modelRefs(job: KubeObject): string[] {
  const names = [
    path(job, 'spec', 'initialModel', 'name'),
    path(job, 'spec', 'evalSpec', 'initialEvalModel', 'name'),
    path(job, 'spec', 'deploySpec', 'model', 'name'),
  ];
  return [...new Set(names.map(str).filter((n): n is string => n !== undefined))];
}
