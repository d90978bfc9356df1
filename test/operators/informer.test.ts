import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createInformer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import type { ResourceType } from '../../gm/operators/resources.ts';
import { useEnvtest } from '../envtest/index.ts';
import { compactEtcd, testLogger, until } from './harness.ts';

const env = useEnvtest();
const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

test('informer against the API server: label selector, watch events, relist after 410 Gone across an API outage', async (t) => {
  const ns = await env.namespace(t);
  const rest = await createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  await rest.request('POST', path, { body: { metadata: { name: 'one', labels: { app: 'x' } } } });
  await rest.request('POST', path, { body: { metadata: { name: 'other' } } });

  // The real lister-watcher, counting its calls.
  const real = restListerWatcher(rest, CONFIGMAPS, ns);
  const calls = { list: 0, watch: 0 };
  const lw: ListerWatcher = {
    list: (q, s) => {
      calls.list++;
      return real.list(q, s);
    },
    watch: (q, s) => {
      calls.watch++;
      return real.watch(q, s);
    },
  };
  const inf = createInformer(
    { resource: CONFIGMAPS, namespace: ns, labelSelector: 'app=x' },
    { listerWatcher: lw, log: testLogger() },
  );
  const events: string[] = [];
  inf.addHandlers({
    add: (o) => events.push(`add ${o.metadata.name}`),
    update: (_, o) => events.push(`update ${o.metadata.name}`),
    delete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
  });
  assert.equal(await inf.waitForSync(ac.signal), true);
  assert.deepEqual(
    inf.list().map((o) => o.metadata.name),
    ['one'],
    'the label selector applies',
  );

  await rest.request('POST', path, { body: { metadata: { name: 'two', labels: { app: 'x' } } } });
  await rest.request('PATCH', `${path}/one`, {
    body: { data: { k: 'v' } },
    contentType: 'application/merge-patch+json',
  });
  await rest.request('DELETE', `${path}/two`);
  await until('events', 10_000, () => events.includes('delete two'));
  assert.deepEqual(events, ['add one', 'add two', 'update one', 'delete two']);

  // Writes the informer does not see (not selected) move the revision past its version; then the
  // API server goes away, etcd compacts (as the API server's compactor does every 5 minutes) and
  // the API server comes back: the informer's watch from its version gets 410 Gone, and it lists again.
  for (let i = 0; i < 3; i++) await rest.request('POST', path, { body: { metadata: { name: `unseen-${i}` } } });
  await env.plane.stopApiServer('SIGKILL');
  await compactEtcd(env.plane);
  await env.plane.startApiServer();
  await until('API back', 30_000, async () => rest.request('GET', path).then(() => true));
  await rest.request('POST', path, { body: { metadata: { name: 'three', labels: { app: 'x' } } } });
  await until('event after the outage', 30_000, () => events.includes('add three'));
  assert.equal(inf.get(ns, 'three')?.metadata.name, 'three');
  assert.equal(inf.get(ns, 'two'), undefined);
  assert.ok(calls.watch >= 2, 'watched again');
  assert.ok(calls.list >= 2 && inf.lists() >= 2, `listed again after 410 Gone (${calls.list} lists)`);
});
