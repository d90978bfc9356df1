/**
 * Downstream routing: which nodes each Sedna object goes to (sedna-wire notes, "Which node gets which
 * object"). Level-based: a route is recomputed from the current cache on every change of the object
 * or of an object it depends on (an IL/LL job's Dataset, a Model's IL jobs), and every node whose
 * membership or content changed is reported, so the hub sends upserts and deletes from one place.
 * The GM leader's target labeler (gm/operators/targets.ts) writes the same routes as labels.
 */

import type { Kind } from '../wire/index.ts';
import { type KubeObject, type ObjectKey, objectKey, path, str } from './objects.ts';
import { datasetNode, directTargets, jobIsActive, modelRefs, type ObjectLookup } from './targets.ts';

export type { ObjectLookup };

/** Called with every (node, key) pair whose object must be re-sent or deleted on that node. */
export type RouteListener = (node: string, key: ObjectKey) => void;

export interface Router {
  /** Records that the object `kind/ns/name` is now `obj` (undefined: deleted) and re-routes what depends on it. */
  update(kind: Kind, namespace: string, name: string, obj: KubeObject | undefined): void;
  /** The nodes `key` is routed to now. */
  nodesOf(key: ObjectKey): ReadonlySet<string>;
  /** The keys routed to `node` now. */
  keysOf(node: string): ReadonlySet<string>;
  routes(key: ObjectKey, node: string): boolean;
  onChange(listener: RouteListener): void;
}

const EMPTY: ReadonlySet<string> = new Set();

/** Creates an empty router; feed it every cache change through `update` (after the cache applied it). */
export function createRouter(lookup: ObjectLookup): Router {
  const routes = new Map<ObjectKey, Set<string>>();
  const byNode = new Map<string, Set<ObjectKey>>();
  // IL/LL jobs by the dataset they read (`ns/dataset`), so a moved Dataset re-routes them.
  const jobsByDataset = new Map<string, Set<ObjectKey>>();
  const jobDataset = new Map<ObjectKey, string>();
  // Models go where the IL jobs that use them have their dataset: each job contributes (model, node)
  // pairs, counted per model, so one job's change updates a model shared by thousands in O(1).
  const jobContrib = new Map<ObjectKey, Array<[ObjectKey, string]>>();
  const modelNodes = new Map<ObjectKey, Map<string, number>>();
  const listeners: RouteListener[] = [];

  const link = (index: Map<string, Set<ObjectKey>>, at: string, key: ObjectKey) => {
    let s = index.get(at);
    if (!s) {
      s = new Set();
      index.set(at, s);
    }
    s.add(key);
  };
  const unlink = (index: Map<string, Set<ObjectKey>>, at: string, key: ObjectKey) => {
    const s = index.get(at);
    s?.delete(key);
    if (s?.size === 0) index.delete(at);
  };
  const emit = (node: string, key: ObjectKey) => {
    for (const l of listeners) l(node, key);
  };
  const modelExists = (key: ObjectKey) => {
    const [, ns, name] = key.split('/') as [Kind, string, string];
    return lookup.get('Model', ns, name) !== undefined;
  };

  function addRoute(key: ObjectKey, node: string) {
    let r = routes.get(key);
    if (!r) {
      r = new Set();
      routes.set(key, r);
    }
    if (r.has(node)) return;
    r.add(node);
    link(byNode, node, key);
    emit(node, key);
  }
  function dropRoute(key: ObjectKey, node: string) {
    const r = routes.get(key);
    if (!r?.delete(node)) return;
    if (r.size === 0) routes.delete(key);
    unlink(byNode, node, key);
    emit(node, key);
  }

  /** Moves one (model, node) count; a count leaving or reaching zero adds or drops that route. */
  function count(model: ObjectKey, node: string, delta: 1 | -1) {
    let m = modelNodes.get(model);
    if (!m) {
      m = new Map();
      modelNodes.set(model, m);
    }
    const n = (m.get(node) ?? 0) + delta;
    if (n > 0) m.set(node, n);
    else m.delete(node);
    if (m.size === 0) modelNodes.delete(model);
    if (!modelExists(model)) return;
    if (n === 1 && delta === 1) addRoute(model, node);
    if (n === 0) dropRoute(model, node);
  }

  function indexJob(kind: Kind, key: ObjectKey, ns: string, obj: KubeObject | undefined) {
    const oldDs = jobDataset.get(key);
    if (oldDs !== undefined) unlink(jobsByDataset, oldDs, key);
    jobDataset.delete(key);
    const ds = obj && str(path(obj, 'spec', 'dataset', 'name'));
    if (ds !== undefined) {
      jobDataset.set(key, `${ns}/${ds}`);
      link(jobsByDataset, `${ns}/${ds}`, key);
    }
    if (kind === 'IncrementalLearningJob') contribute(key, ns, obj);
  }

  /** Recomputes what an IL job adds to its models' routes (Sedna pushes them to the dataset node). */
  function contribute(key: ObjectKey, ns: string, obj: KubeObject | undefined) {
    const node = obj && jobIsActive('IncrementalLearningJob', obj) ? datasetNode(obj, lookup) : undefined;
    const next: Array<[ObjectKey, string]> =
      obj && node !== undefined ? modelRefs(obj).map((m) => [objectKey('Model', ns, m), node]) : [];
    const prev = jobContrib.get(key) ?? [];
    if (next.length) jobContrib.set(key, next);
    else jobContrib.delete(key);
    // Add before removing, so a model that stays on the node is never dropped and re-sent.
    for (const [m, n] of next) count(m, n, 1);
    for (const [m, n] of prev) count(m, n, -1);
  }

  function compute(key: ObjectKey): Set<string> {
    const [kind, ns, name] = key.split('/') as [Kind, string, string];
    if (kind === 'Model') return modelExists(key) ? new Set(modelNodes.get(key)?.keys()) : new Set();
    const obj = lookup.get(kind, ns, name);
    return obj ? directTargets(kind, obj, lookup) : new Set();
  }

  function reroute(key: ObjectKey, contentChanged: boolean) {
    const before = routes.get(key) ?? EMPTY;
    const after = compute(key);
    if (after.size) routes.set(key, after);
    else routes.delete(key);
    for (const n of before) {
      if (after.has(n)) continue;
      unlink(byNode, n, key);
      emit(n, key);
    }
    for (const n of after) {
      if (before.has(n)) {
        if (contentChanged) emit(n, key);
        continue;
      }
      link(byNode, n, key);
      emit(n, key);
    }
  }

  return {
    update(kind, namespace, name, obj) {
      const key = objectKey(kind, namespace, name);
      if (kind === 'IncrementalLearningJob' || kind === 'LifelongLearningJob') indexJob(kind, key, namespace, obj);
      reroute(key, true);
      if (kind === 'Dataset') {
        // Jobs reading this dataset may now go elsewhere, and their models with them.
        for (const job of jobsByDataset.get(`${namespace}/${name}`) ?? []) {
          reroute(job, false);
          const [jobKind, , jobName] = job.split('/') as [Kind, string, string];
          if (jobKind === 'IncrementalLearningJob') contribute(job, namespace, lookup.get(jobKind, namespace, jobName));
        }
      }
    },
    nodesOf: (key) => routes.get(key) ?? EMPTY,
    keysOf: (node) => byNode.get(node) ?? EMPTY,
    routes: (key, node) => routes.get(key)?.has(node) ?? false,
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
