import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest, WatchEvent } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { createClusterSource, HEALTH_CONFIG_KEY, HEALTH_CONFIGMAP, resolveConfigMapHealth } from './cluster.ts';
import { type HealthConfig, resolveHealthConfig } from './config.ts';

/** A stub API: the objects of one resource listed, then events pushed by the test. */
function stubResource(items: KubeObject[]) {
  const queue: WatchEvent<KubeObject>[] = [];
  let wake = () => {};
  const queries: Record<string, unknown>[] = [];
  const lw: ListerWatcher = {
    list: async (query) => {
      queries.push(query);
      return { items, metadata: { resourceVersion: '1' } };
    },
    async *watch(_query, signal) {
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
  return { lw, queries, push };
}

const cm = (text: string, rv: string): KubeObject =>
  ({
    metadata: { name: HEALTH_CONFIGMAP, namespace: 'sedna', resourceVersion: rv },
    data: { [HEALTH_CONFIG_KEY]: text },
  }) as KubeObject;
const node = (name: string, zone?: string): KubeObject =>
  ({
    metadata: { name, resourceVersion: '1', labels: zone ? { 'fedmesh.io/topology-zone': zone } : {} },
  }) as KubeObject;
const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(what());
};

test('cluster source: zones from Node labels; the ConfigMap applied, a bad one refused (old kept, logged, counted), deletion back to the file', async (t) => {
  const nodes = stubResource([node('a', 'z1'), node('b', 'z1'), node('c')]);
  const maps = stubResource([cm('period: 2s', '1')]);
  const file = resolveHealthConfig({ period: '5s', publish: { namespace: 'sedna' } });
  const applied: { cfg: HealthConfig; source: string }[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({
    component: 'test',
    level: 'info',
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  });
  const registry = createRegistry();
  const source = createClusterSource(
    { namespace: 'sedna' },
    {
      rest: {} as KubeRest,
      fileConfig: () => file,
      apply: (cfg, from) => applied.push({ cfg, source: from }),
      log,
      registry,
      listerWatcher: (r: ResourceType) => (r.plural === 'nodes' ? nodes.lw : maps.lw),
    },
  );
  const ac = new AbortController();
  t.after(() => ac.abort());
  const running = source.start(ac.signal);
  await until(() => source.nodesSynced() && applied.length === 1);
  assert.equal(maps.queries[0]?.fieldSelector, `metadata.name=${HEALTH_CONFIGMAP}`);
  assert.equal(source.zoneValue('a', 'fedmesh.io/topology-zone'), 'z1');
  assert.equal(source.zoneValue('c', 'fedmesh.io/topology-zone'), undefined);
  assert.equal(source.zoneValue('unknown', 'fedmesh.io/topology-zone'), undefined);
  assert.equal(applied[0]?.cfg.periodMs, 2_000);
  assert.deepEqual(applied[0]?.cfg.publish, { namespace: 'sedna' }, 'publish stays the file’s');
  assert.equal(source.fromConfigMap(), true);

  // A window shorter than two periods: refused, nothing applied, the 2 s period stays.
  maps.push({ type: 'MODIFIED', object: cm('period: 2s\nwindow: 3s', '2') });
  await until(() => lines.some((l) => l.msg === 'health configuration refused, keeping the one in force'));
  assert.equal(applied.length, 1);
  assert.match(String(lines.find((l) => l.msg?.toString().startsWith('health configuration refused'))?.err), /window/);
  assert.match(registry.render(), /fedmesh_mesh_health_config_total\{result="refused"\} 1/);

  maps.push({ type: 'MODIFIED', object: cm('zones: { enabled: true, label: example.com/site }\nperiod: 1s', '3') });
  await until(() => applied.length === 2);
  assert.deepEqual(applied[1]?.cfg.zones, { enabled: true, label: 'example.com/site' });

  nodes.push({ type: 'MODIFIED', object: node('c', 'z2') });
  await until(() => source.zoneValue('c', 'fedmesh.io/topology-zone') === 'z2');

  maps.push({ type: 'DELETED', object: cm('', '4') });
  await until(() => applied.length === 3);
  assert.deepEqual(applied[2], { cfg: file, source: 'file' });
  assert.equal(source.fromConfigMap(), false);
  ac.abort();
  await running;
});

const bad = [
  { name: 'publish in the ConfigMap', text: 'publish: { namespace: other }', match: /publish/ },
  { name: 'unknown key', text: 'perod: 5s', match: /perod|additional/i },
  { name: 'timeout not below period', text: 'period: 1s\ntimeout: 1s', match: /timeout/ },
  { name: 'bad zone label', text: 'zones: { label: "Not A Label!" }', match: /label/ },
  { name: 'not YAML', text: 'period: [', match: /ConfigMap fedmesh-health/ },
];
for (const c of bad) {
  test(`resolveConfigMapHealth refuses: ${c.name}`, async () => {
    await assert.rejects(resolveConfigMapHealth(c.text, resolveHealthConfig({})), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_CONFIG');
      assert.match(err.message, c.match);
      return true;
    });
  });
}
