/** A tiny in-memory object world for the hub's unit tests: a lookup plus a router fed like the cache feeds it. */

import type { KubeObject } from '../../common/sedna/objects.ts';
import { createRouter, type ObjectLookup, type Router } from '../../common/sedna/router.ts';
import type { Kind } from '../../common/wire/index.ts';

export interface World {
  lookup: ObjectLookup;
  router: Router;
  /** `node key` pairs the router reported, in order. */
  events: string[];
  put(kind: Kind, obj: Omit<KubeObject, 'metadata'> & { metadata: { name: string } }): KubeObject;
  del(kind: Kind, name: string): void;
}

export function createWorld(ns = 'ns'): World {
  const objs = new Map<string, KubeObject>();
  const lookup: ObjectLookup = { get: (kind, namespace, name) => objs.get(`${kind}/${namespace}/${name}`) };
  const router = createRouter(lookup);
  const events: string[] = [];
  router.onChange((node, key) => events.push(`${node} ${key}`));
  let rv = 0;
  return {
    lookup,
    router,
    events,
    put(kind, obj) {
      const full = { ...obj, kind, metadata: { ...obj.metadata, namespace: ns, resourceVersion: String(++rv) } };
      objs.set(`${kind}/${ns}/${obj.metadata.name}`, full);
      router.update(kind, ns, obj.metadata.name, full);
      return full;
    },
    del(kind, name) {
      objs.delete(`${kind}/${ns}/${name}`);
      router.update(kind, ns, name, undefined);
    },
  };
}

export const ds = (name: string, node: string) => ({ metadata: { name }, spec: { nodeName: node } });
export const il = (
  name: string,
  dataset: string,
  opts: { active?: boolean; annotations?: Record<string, string> } = {},
) => ({
  metadata: { name, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
  spec: {
    dataset: { name: dataset },
    initialModel: { name: 'm-initial' },
    deploySpec: { model: { name: 'm-deploy' } },
  },
  status: opts.active === false ? {} : { conditions: [{ type: 'Waiting', stage: 'Train' }] },
});
export const fl = (name: string, nodes: string[]) => ({
  metadata: { name },
  spec: { trainingWorkers: nodes.map((n) => ({ template: { spec: { nodeName: n } } })) },
});
