import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import type { WatchEvent } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { createZonesSource } from './zones-config.ts';

const cm = (text: string, rv: string): KubeObject =>
  ({
    metadata: { name: 'fedmesh-health', namespace: 'sedna', resourceVersion: rv },
    data: { 'health.yaml': text },
  }) as KubeObject;

test('zones from ConfigMap fedmesh-health: applied over the flags, a refused document keeps them, deletion returns to the flags', async (t) => {
  const queue: WatchEvent<KubeObject>[] = [];
  let wake = () => {};
  const queries: Record<string, unknown>[] = [];
  const lw: ListerWatcher = {
    list: async (q) => {
      queries.push(q);
      return {
        items: [cm('zones: { enabled: true, label: example.com/site }', '1')],
        metadata: { resourceVersion: '1' },
      };
    },
    async *watch(_q, signal) {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) yield e;
        else
          await new Promise<void>((r) => {
            wake = r;
            signal.addEventListener('abort', () => r(), { once: true });
          });
      }
    },
  };
  const push = (e: WatchEvent<KubeObject>) => {
    queue.push(e);
    wake();
  };
  let changes = 0;
  const registry = createRegistry();
  const flags = { enabled: false, label: 'fedmesh.io/topology-zone' };
  const src = createZonesSource(
    { namespace: 'sedna', flags },
    {
      listerWatcher: lw,
      log: createLogger({ component: 'test', level: 'silent' }),
      registry,
      changed: () => changes++,
    },
  );
  const ac = new AbortController();
  t.after(() => ac.abort());
  const running = src.informer.start(ac.signal);
  assert.equal(await src.informer.waitForSync(ac.signal), true);
  assert.equal(queries[0]?.fieldSelector, 'metadata.name=fedmesh-health');
  assert.deepEqual(src.zones, { enabled: true, label: 'example.com/site' }, 'applied before sync is reported');
  assert.equal(changes, 1);
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(what());
  };
  push({ type: 'MODIFIED', object: cm('zones: { label: "Not A Label" }', '2') });
  await until(() => /fedmesh_gm_health_config_total\{result="refused"\} 1/.test(registry.render()));
  assert.deepEqual(src.zones, { enabled: true, label: 'example.com/site' });
  push({ type: 'DELETED', object: cm('', '3') });
  await until(() => !src.zones.enabled);
  assert.deepEqual(src.zones, flags);
  assert.equal(changes, 2);
  ac.abort();
  await running;
});
