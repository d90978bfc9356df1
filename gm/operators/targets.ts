/**
 * The target labeler: keeps one label per target node on every Sedna object,
 * `targets.fedmesh.io/<node>: "true"` (common/sedna/targets.ts), so that an LC in fallback can
 * list and watch only its own node's objects through an edge API endpoint by label selector (the
 * broadcast storm of every LC watching every object is what this avoids). The targets are the
 * hub's routes (common/sedna/router.ts, fed from this term's caches): an FL or JI object spanning
 * several nodes carries several labels; a Model carries the nodes of the IL jobs that use it.
 * Labels of nodes no longer targeted are removed. Leader only, every write fenced (writer.ts).
 */
import type { Informer } from '../../common/kube/informer.ts';
import type { KubeObject as SednaObject } from '../../common/sedna/objects.ts';
import { createRouter, type Router } from '../../common/sedna/router.ts';
import { TARGET_LABEL_PREFIX, TARGET_LABEL_VALUE, targetLabel } from '../../common/sedna/targets.ts';
import { KINDS, type Kind } from '../../common/wire/kinds.ts';
import { type KubeObject, RESOURCES } from './resources.ts';
import type { Caches, Reconciler } from './types.ts';
import type { Writer } from './writer.ts';

/** The queue's kind for target label keys: `TargetLabels/<Kind>/<namespace>/<name>`. */
export const TARGET_LABELS = 'TargetLabels';

/**
 * The label patch that makes `obj`'s target labels exactly `nodes`: wanted keys set, others of the
 * prefix removed (null in a merge patch); undefined when nothing must change.
 */
export function labelPatch(obj: KubeObject, nodes: Iterable<string>): Record<string, string | null> | undefined {
  const want = new Set([...nodes].map(targetLabel));
  const have = obj.metadata.labels ?? {};
  const patch: Record<string, string | null> = {};
  for (const k of want) if (have[k] !== TARGET_LABEL_VALUE) patch[k] = TARGET_LABEL_VALUE;
  for (const k of Object.keys(have)) if (k.startsWith(TARGET_LABEL_PREFIX) && !want.has(k)) patch[k] = null;
  return Object.keys(patch).length ? patch : undefined;
}

export interface TargetLabeler {
  reconciler: Reconciler;
  router: Router;
}

/**
 * A router fed by the caches' events, and the reconciler of `TargetLabels/...` keys. `enqueue` is
 * told every key whose labels may have to change (a route changed, or the object itself did).
 */
export function targetLabeler(deps: { caches: Caches; writer: Writer }, enqueue: (key: string) => void): TargetLabeler {
  const { caches, writer } = deps;
  const router = createRouter({
    get: (kind, namespace, name) => caches[kind].get(namespace, name) as SednaObject | undefined,
  });
  router.onChange((_node, key) => enqueue(`${TARGET_LABELS}/${key}`));
  for (const kind of KINDS) {
    const informer: Informer = caches[kind];
    const update = (o: KubeObject, gone = false) => {
      const ns = o.metadata.namespace ?? '';
      router.update(kind, ns, o.metadata.name, gone ? undefined : (o as SednaObject));
      // The object's own labels may be off even when its route did not move (edited by hand, a new term).
      if (!gone) enqueue(`${TARGET_LABELS}/${kind}/${ns}/${o.metadata.name}`);
    };
    informer.addHandlers({ add: (o) => update(o), update: (_, o) => update(o), delete: (o) => update(o, true) });
  }
  return {
    router,
    reconciler: {
      kind: TARGET_LABELS,
      async reconcile(key, { signal }) {
        const [kind, namespace, name] = key.split('/') as [Kind, string, string];
        const obj = caches[kind]?.get(namespace, name);
        if (!obj || obj.metadata.deletionTimestamp) return {};
        const patch = labelPatch(obj, router.nodesOf(key));
        if (patch) await writer.patchLabels(RESOURCES[kind], obj, patch, signal);
        return {};
      },
    },
  };
}
