/**
 * Service discovery against a real kube-apiserver + etcd (dual-stack service range): Services and
 * EndpointSlices created by hand (no controller-manager runs), seen through the catalog.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import {
  createServiceCatalog,
  EDGEMESH_PROXY_NAME_LABEL,
  endpointPort,
  FEDMESH_PROXY_NAME_LABEL,
  type ServiceCatalog,
  type ServiceChange,
} from '../../mesh/services/index.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest({ serviceClusterIPRange: '10.96.0.0/24,fd00:96::/112' });

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

async function until<T>(what: string, fn: () => T, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

async function startCatalog(t: TestContext, namespace?: string): Promise<{ rest: KubeRest; catalog: ServiceCatalog }> {
  const rest = await createKubeRest(env.kubeConfig());
  const catalog = createServiceCatalog({ namespace }, { rest, log });
  const ac = new AbortController();
  const running = catalog.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
    rest.close();
  });
  assert.equal(await catalog.waitForSync(AbortSignal.timeout(30_000)), true);
  assert.equal(catalog.synced(), true);
  return { rest, catalog };
}

const services = (ns: string) => `/api/v1/namespaces/${ns}/services`;
const slices = (ns: string) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

function slice(name: string, service: string, addressType: 'IPv4' | 'IPv6', endpoints: unknown[], port: number) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    addressType,
    endpoints,
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

test('create, update and delete of a dual-stack Service and its IPv4 and IPv6 slices reach lookup and byClusterIP', async (t) => {
  const ns = await env.namespace(t);
  const { rest, catalog } = await startCatalog(t, ns);
  const changes: ServiceChange[] = [];
  catalog.onChange((c) => changes.push(c));

  await rest.request('POST', services(ns), {
    body: {
      metadata: { name: 'web' },
      spec: {
        ipFamilyPolicy: 'RequireDualStack',
        ports: [{ name: 'http', port: 80, targetPort: 'web' }],
        sessionAffinity: 'ClientIP',
      },
    },
  });
  const created = await until('the service', () => catalog.lookup(ns, 'web'));
  assert.equal(created.service.clusterIPs.length, 2, 'both families');
  assert.equal(created.service.headless, false);
  assert.equal(created.service.sessionAffinity, 'ClientIP');
  assert.equal(created.service.sessionAffinityTimeoutSeconds, 10_800);
  assert.deepEqual(created.endpoints, []);
  const [v4, v6] = created.service.clusterIPs as [string, string];
  assert.match(v4, /^10\.96\./);
  assert.match(v6, /^fd00:96::/);

  // The named targetPort resolves differently per slice: 8080 in the IPv4 slice, 9090 in the IPv6 one.
  await rest.request('POST', slices(ns), {
    body: slice('web-v4', 'web', 'IPv4', [{ addresses: ['10.244.1.5'], nodeName: 'edge-1' }], 8080),
  });
  await rest.request('POST', slices(ns), {
    body: slice('web-v6', 'web', 'IPv6', [{ addresses: ['fd00:244::5'], nodeName: 'edge-2' }], 9090),
  });
  const both = await until('two endpoints', () => {
    const e = catalog.lookup(ns, 'web');
    return e && e.endpoints.length === 2 ? e : undefined;
  });
  assert.deepEqual(
    both.endpoints.map((e) => [e.addresses[0], e.family, e.nodeName, e.ready, endpointPort(e, 'http')]),
    [
      ['10.244.1.5', 'IPv4', 'edge-1', true, 8080],
      ['fd00:244::5', 'IPv6', 'edge-2', true, 9090],
    ],
  );
  for (const ip of [v4, v6]) {
    const hit = catalog.byClusterIP(ip, 80, 'TCP');
    assert.equal(hit?.entry.service.name, 'web', ip);
    assert.equal(hit?.port.name, 'http');
  }
  assert.equal(catalog.byClusterIP(v4, 81), undefined);
  assert.equal(catalog.byClusterIP(v4, 80, 'UDP'), undefined);

  // An endpoint that stops being ready (terminating) is seen as such.
  const cur = await rest.request<{ metadata: { resourceVersion: string } }>('GET', `${slices(ns)}/web-v4`);
  await rest.request('PUT', `${slices(ns)}/web-v4`, {
    body: {
      ...slice(
        'web-v4',
        'web',
        'IPv4',
        [
          {
            addresses: ['10.244.1.5'],
            nodeName: 'edge-1',
            conditions: { ready: false, serving: true, terminating: true },
          },
        ],
        8080,
      ),
      metadata: {
        name: 'web-v4',
        labels: { 'kubernetes.io/service-name': 'web' },
        resourceVersion: cur.metadata.resourceVersion,
      },
    },
  });
  await until('the IPv4 endpoint terminating', () => catalog.lookup(ns, 'web')?.endpoints.find((e) => e.terminating));
  const terminating = catalog.lookup(ns, 'web')?.endpoints.find((e) => e.family === 'IPv4');
  assert.deepEqual([terminating?.ready, terminating?.serving, terminating?.terminating], [false, true, true]);

  await rest.request('DELETE', `${slices(ns)}/web-v4`);
  await until('one endpoint left', () => catalog.lookup(ns, 'web')?.endpoints.length === 1);
  assert.equal(catalog.lookup(ns, 'web')?.endpoints[0]?.family, 'IPv6');

  await rest.request('DELETE', `${services(ns)}/web`);
  await until('the service gone', () => catalog.lookup(ns, 'web') === undefined);
  assert.equal(catalog.byClusterIP(v4, 80), undefined, 'the cluster IP index follows deletes');
  assert.equal(catalog.byClusterIP(v6, 80), undefined);
  const last = changes.at(-1);
  assert.equal(last?.name, 'web');
  assert.equal(last?.entry, undefined);
  assert.equal(last?.previous?.service.name, 'web');
  assert.equal([...catalog.entries()].length, 0);
});

test('opt-out labels (EdgeMesh and fedmesh) and default/kubernetes are never in the catalog; labelling later removes', async (t) => {
  const ns = await env.namespace(t);
  const { rest, catalog } = await startCatalog(t);
  // The API server's own Service exists, and the catalog (all namespaces) leaves it out.
  await rest.request('GET', '/api/v1/namespaces/default/services/kubernetes');
  assert.equal(catalog.lookup('default', 'kubernetes'), undefined);

  const port = [{ name: 'http', port: 80 }];
  await rest.request('POST', services(ns), {
    body: { metadata: { name: 'em', labels: { [EDGEMESH_PROXY_NAME_LABEL]: 'istio' } }, spec: { ports: port } },
  });
  await rest.request('POST', services(ns), {
    body: { metadata: { name: 'fm', labels: { [FEDMESH_PROXY_NAME_LABEL]: '' } }, spec: { ports: port } },
  });
  await rest.request('POST', services(ns), { body: { metadata: { name: 'plain' }, spec: { ports: port } } });
  await until('the plain service', () => catalog.lookup(ns, 'plain'));
  // Created before 'plain': had they passed, they would be here by now.
  assert.equal(catalog.lookup(ns, 'em'), undefined);
  assert.equal(catalog.lookup(ns, 'fm'), undefined);

  await rest.request('PATCH', `${services(ns)}/plain`, {
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { [EDGEMESH_PROXY_NAME_LABEL]: 'other' } } },
  });
  await until('plain opted out', () => catalog.lookup(ns, 'plain') === undefined);
  await rest.request('PATCH', `${services(ns)}/em`, {
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { [EDGEMESH_PROXY_NAME_LABEL]: null } } },
  });
  await until('em opted back in', () => catalog.lookup(ns, 'em'));
});

test('headless Service: known as headless, with its endpoint addresses (IPv4 and IPv6)', async (t) => {
  const ns = await env.namespace(t);
  const { rest, catalog } = await startCatalog(t, ns);
  await rest.request('POST', services(ns), {
    body: { metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 5432 }] } },
  });
  await rest.request('POST', slices(ns), {
    body: slice('db-1', 'db', 'IPv4', [{ addresses: ['10.244.2.7'], nodeName: 'edge-3', hostname: 'db-0' }], 5432),
  });
  await rest.request('POST', slices(ns), {
    body: slice('db-2', 'db', 'IPv6', [{ addresses: ['fd00:244::7'], nodeName: 'edge-3' }], 5432),
  });
  const e = await until('the headless endpoints', () => {
    const x = catalog.lookup(ns, 'db');
    return x?.endpoints.length === 2 ? x : undefined;
  });
  assert.equal(e.service.headless, true);
  assert.deepEqual(e.service.clusterIPs, []);
  assert.deepEqual(
    e.endpoints.map((p) => [p.addresses[0], p.hostname, p.nodeName]),
    [
      ['10.244.2.7', 'db-0', 'edge-3'],
      ['fd00:244::7', undefined, 'edge-3'],
    ],
  );
});
