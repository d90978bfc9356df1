/**
 * The target labeler: keeps one label per target node on every Sedna object,
 * `targets.fedmesh.io/<node>: "true"` (common/sedna/targets.ts), so that an LC in fallback can
 * list and watch only its own node's objects through an edge API endpoint by label selector (the
 * broadcast storm of every LC watching every object is what this avoids). The targets are the
 * hub's routes (common/sedna/router.ts, fed from this term's caches): an FL or JI object spanning
 * several nodes carries several labels; a Model carries the nodes of the IL jobs that use it.
 * Labels of nodes no longer targeted are removed. Leader only, every write fenced (writer.ts), in
 * the reconcile of the object's own key (withTargetLabels), so it never races the kind's reconciler.
 */
import type { Informer } from '../../common/kube/informer.ts';
import type { Logger } from '../../common/log.ts';
import type { KubeObject as SednaObject } from '../../common/sedna/objects.ts';
import { createRouter, type Router } from '../../common/sedna/router.ts';
import { TARGET_LABEL_PREFIX, TARGET_LABEL_VALUE, targetLabel } from '../../common/sedna/targets.ts';
import { KINDS } from '../../common/wire/kinds.ts';
import { NotLeaderError } from '../election/index.ts';
import { type KubeObject, RESOURCES, splitKey } from './resources.ts';
import type { Caches, Reconciler } from './types.ts';
import type { Writer } from './writer.ts';

/** A target label write that failed is tried again after this long (ms), without holding the reconcile up. */
export const LABEL_RETRY_MS = 5000;

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

/** Route changes and object changes go to the primary keys (`Kind/namespace/name`) through `enqueue`. */
export function targetRouter(caches: Caches, enqueue: (key: string) => void): Router {
  const router = createRouter({
    get: (kind, namespace, name) => caches[kind].get(namespace, name) as SednaObject | undefined,
  });
  // A route change may concern another object than the one that changed (a Model when an IL job moves).
  router.onChange((_node, key) => enqueue(key));
  for (const kind of KINDS) {
    const informer: Informer = caches[kind];
    const update = (o: KubeObject, gone = false) =>
      router.update(kind, o.metadata.namespace ?? '', o.metadata.name, gone ? undefined : (o as SednaObject));
    informer.addHandlers({ add: (o) => update(o), update: (_, o) => update(o), delete: (o) => update(o, true) });
  }
  return router;
}

/**
 * `inner` with the object's target labels made right first, in the same key's reconcile: the label
 * patch changes the object's resourceVersion, and a separate writer of the same object would make
 * the reconciler's status patch (preconditioned on the version it read) fail with 409. When the
 * labels were patched the reconcile ends there; the patch's own watch event brings the key back,
 * and `inner` then reads the labelled object. A label write that fails (other than losing
 * leadership or stopping) does not hold `inner` up: it is retried after LABEL_RETRY_MS.
 */
export function withTargetLabels(
  inner: Reconciler,
  deps: { caches: Caches; writer: Writer; router: Router; log: Logger },
): Reconciler {
  const kind = inner.kind;
  return {
    kind,
    async reconcile(key, ctx) {
      const { namespace, name } = splitKey(key);
      const obj = deps.caches[kind].get(namespace, name);
      if (obj && !obj.metadata.deletionTimestamp) {
        const patch = labelPatch(obj, deps.router.nodesOf(`${kind}/${key}`));
        if (patch) {
          try {
            await deps.writer.patchLabels(RESOURCES[kind], obj, patch, ctx.signal);
            return {};
          } catch (err) {
            if (ctx.signal.aborted || err instanceof NotLeaderError) throw err;
            ctx.log.warn({ err }, 'target labels not written; retrying later');
            const res = await inner.reconcile(key, ctx);
            return { requeueAfterMs: Math.min(res.requeueAfterMs ?? LABEL_RETRY_MS, LABEL_RETRY_MS) };
          }
        }
      }
      return inner.reconcile(key, ctx);
    },
  };
}
