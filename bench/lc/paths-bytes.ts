/**
 * Fallback bytes for bench/lc-paths.ts: 1 000 Datasets over 100 nodes (each labelled for its node,
 * as the GM leader's labeler does), then two fallbacks (lc/fallback, memory stores) list-watch them
 * through the same loopback edge endpoint in front of the API server: one for node-7 with its
 * label selector, one through an endpoint that drops the selector (an unfiltered list-watch of the
 * same objects). Each figure is the fallback's own `bytesReceived` once every kind is listed.
 */
import type { KubeRest } from '../../common/kube/rest.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import type { ControlPlane } from '../../test/envtest/index.ts';
import { create, until } from '../../test/hub/helpers.ts';
import { startEdgeProxy } from '../../test/lc/edge-proxy.ts';
import { lcApiToken, runFallback } from '../../test/lc/fallback-helpers.ts';
import { round } from '../stats.ts';

export async function fallbackBytes(plane: ControlPlane, rest: KubeRest, ns: string) {
  const nodes = 100;
  const total = 1000;
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; i++) {
    const node = `node-${i % nodes}`;
    pending.push(
      create(rest, ns, 'Dataset', {
        metadata: { name: `ds-${i}`, labels: { [targetLabel(node)]: 'true' } },
        spec: { url: `/data/${i}.txt`, format: 'txt', nodeName: node },
      }),
    );
    if (pending.length >= 50) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const proxy = await startEdgeProxy(plane);
  const after: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => after.push(fn) } as never;
  try {
    const token = await lcApiToken(rest, ns, 'node-7');
    const measure = async (ignoreSelector: boolean) => {
      proxy.mode.ignoreSelector = ignoreSelector;
      const fb = runFallback(t, { node: 'node-7', url: proxy.url, namespace: ns }, token);
      await until('the fallback listed every kind', 60_000, () => fb.fallback.status().synced);
      const s = fb.fallback.status();
      await fb.stop();
      return { bytes: s.bytesReceived, objects: s.objectsReceived, held: fb.store.listObjects().length };
    };
    const filtered = await measure(false);
    const all = await measure(true);
    if (filtered.held !== all.held) throw new Error(`held ${filtered.held} filtered, ${all.held} unfiltered`);
    return {
      fallback_bytes_filtered: filtered.bytes,
      fallback_bytes_unfiltered: all.bytes,
      fallback_objects_filtered: filtered.objects,
      fallback_objects_unfiltered: all.objects,
      fallback_bytes_ratio: round(filtered.bytes / all.bytes, 4),
    };
  } finally {
    for (const fn of after.reverse()) await fn();
    await proxy.close();
  }
}
