/**
 * The node-local resolver against a real kube-apiserver + etcd: Services and EndpointSlices
 * created by hand (no controller-manager runs), seen through the service catalog and answered
 * over UDP and TCP on loopback; other names forwarded to a stub upstream resolver.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { DecodedPacket, RecordType } from 'dns-packet';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry, type Registry } from '../../common/metrics.ts';
import { createServiceAgent } from '../../mesh/dns/agent.ts';
import { createDnsResolver, type DnsResolverInit, reverseName } from '../../mesh/dns/index.ts';
import { floodFrom, query, queryBytes, rcodeOf, type StubUpstream, stubUpstream } from '../../mesh/dns/testing.ts';
import { createServiceCatalog } from '../../mesh/services/index.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest({ serviceClusterIPRange: '10.96.0.0/24,fd00:96::/112' });

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

const DOMAIN = 'edge.example';
const services = (ns: string) => `/api/v1/namespaces/${ns}/services`;
const slices = (ns: string) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
const data = (p: DecodedPacket) => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));

interface Running {
  rest: KubeRest;
  port: number;
  upstream: StubUpstream;
  registry: Registry;
}

/** Catalog (one namespace) + resolver on 127.0.0.1, forwarding to a stub that answers 192.0.2.x for anything. */
async function start(t: TestContext, ns: string, init: Partial<DnsResolverInit> = {}): Promise<Running> {
  const rest = await createKubeRest(env.kubeConfig());
  const catalog = createServiceCatalog({ namespace: ns }, { rest, log });
  const upstream = await stubUpstream((q) => ({
    answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 300, data: '192.0.2.53' }],
  }));
  const registry = createRegistry();
  const resolver = createDnsResolver(
    {
      listen: [{ host: '127.0.0.1', port: 0 }],
      clusterDomain: DOMAIN,
      upstreams: [{ host: '127.0.0.1', port: upstream.port }],
      ...init,
    },
    { catalog, log, registry },
  );
  const ac = new AbortController();
  const running = Promise.all([catalog.start(ac.signal), resolver.start(ac.signal)]);
  t.after(async () => {
    ac.abort();
    await running;
    await upstream.close();
    rest.close();
  });
  assert.equal(await catalog.waitForSync(AbortSignal.timeout(30_000)), true);
  const [l] = await resolver.ready;
  return { rest, port: (l as { port: number }).port, upstream, registry };
}

/** Polls until the answer to `name`/`type` satisfies `ok` (the watch delivers changes asynchronously). */
async function until(
  port: number,
  name: string,
  type: RecordType,
  ok: (p: DecodedPacket) => boolean,
  tcp = false,
): Promise<DecodedPacket> {
  const end = Date.now() + 15_000;
  for (;;) {
    const p = await query(port, name, type, { tcp });
    if (ok(p)) return p;
    if (Date.now() > end) throw new Error(`timed out waiting on ${name} ${type}: ${JSON.stringify(p.answers)}`);
    await delay(50);
  }
}

test('Services and EndpointSlices from the API answered over UDP and TCP: A, AAAA, headless, SRV, PTR, a change, NXDOMAIN', async (t) => {
  const ns = await env.namespace(t);
  const { rest, port } = await start(t, ns);
  await rest.request('POST', services(ns), {
    body: {
      metadata: { name: 'web' },
      spec: { ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'http', port: 80, targetPort: 'web' }] },
    },
  });
  const web = `web.${ns}.svc.${DOMAIN}`;
  const a = await until(port, web, 'A', (p) => rcodeOf(p) === 0 && data(p).length === 1);
  const [v4] = data(a) as [string];
  assert.match(v4, /^10\.96\.0\./);
  assert.equal(a.flag_aa, true);
  const aaaa = await query(port, web, 'AAAA', { tcp: true });
  const [v6] = data(aaaa) as [string];
  assert.match(v6, /^fd00:96::/);
  const srv = await query(port, `_http._tcp.${web}`, 'SRV');
  assert.deepEqual(data(srv), [{ priority: 0, weight: 100, port: 80, target: web }]);
  assert.deepEqual(data(await query(port, reverseName(v4), 'PTR')), [web]);
  assert.deepEqual(data(await query(port, reverseName(v6), 'PTR', { tcp: true })), [web]);

  // Headless: the ready endpoint addresses; a new endpoint shows up, a not-ready one does not.
  await rest.request('POST', services(ns), {
    body: { metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] } },
  });
  const slice = (endpoints: unknown[]) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'db-v4', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4',
    endpoints,
    ports: [{ name: 'pg', port: 15432, protocol: 'TCP' }],
  });
  await rest.request('POST', slices(ns), {
    body: slice([{ addresses: ['10.244.1.5'], hostname: 'db-0', nodeName: 'edge-1' }]),
  });
  const db = `db.${ns}.svc.${DOMAIN}`;
  await until(port, db, 'A', (p) => data(p).join() === '10.244.1.5');
  assert.deepEqual(data(await query(port, `db-0.${db}`, 'A', { tcp: true })), ['10.244.1.5']);
  const dbSrv = await query(port, `_pg._tcp.${db}`, 'SRV');
  assert.deepEqual(data(dbSrv), [{ priority: 0, weight: 100, port: 15432, target: `db-0.${db}` }]);
  const cur = await rest.request<{ metadata: { resourceVersion: string } }>('GET', `${slices(ns)}/db-v4`);
  const next = slice([
    { addresses: ['10.244.1.5'], hostname: 'db-0' },
    { addresses: ['10.244.2.6'], hostname: 'db-1' },
    { addresses: ['10.244.3.7'], conditions: { ready: false } },
  ]);
  await rest.request('PUT', `${slices(ns)}/db-v4`, {
    body: { ...next, metadata: { ...next.metadata, resourceVersion: cur.metadata.resourceVersion } },
  });
  const both = await until(port, db, 'A', (p) => data(p).length === 2, true);
  assert.deepEqual(data(both), ['10.244.1.5', '10.244.2.6']);
  assert.deepEqual(data(await query(port, reverseName('10.244.2.6'), 'PTR')), [`db-1.${db}`]);

  // Deleted: NXDOMAIN with the zone's SOA; never forwarded.
  await rest.request('DELETE', `${services(ns)}/web`);
  const gone = await until(port, web, 'A', (p) => rcodeOf(p) === 3);
  assert.equal(gone.authorities?.[0]?.type, 'SOA');
  assert.equal(rcodeOf(await query(port, `nope.${ns}.svc.${DOMAIN}`, 'A', { tcp: true })), 3);
});

test('other names are forwarded to the upstream and cached; the search-list expansions stay local', async (t) => {
  const ns = await env.namespace(t);
  const { port, upstream, registry } = await start(t, ns);
  // What a pod with ndots:5 sends for "example.com": three search expansions, then the name itself.
  for (const name of [`example.com.${ns}.svc.${DOMAIN}`, `example.com.svc.${DOMAIN}`, `example.com.${DOMAIN}`]) {
    assert.equal(rcodeOf(await query(port, name, 'A')), 3, name);
  }
  assert.deepEqual(data(await query(port, 'example.com', 'A')), ['192.0.2.53']);
  assert.deepEqual(data(await query(port, 'EXAMPLE.com', 'A', { tcp: true })), ['192.0.2.53']);
  assert.deepEqual(upstream.queries, [{ name: 'example.com', type: 'A', tcp: false }], 'one upstream query in all');
  assert.match(registry.render(), /fedmesh_mesh_dns_cache_total\{result="hit"\} 1/);
});

test('a query flood from one source is rate-limited while another source is still answered', async (t) => {
  const ns = await env.namespace(t);
  const { port, registry } = await start(t, ns, { rateLimit: { qps: 20, burst: 20 } });
  const got = await floodFrom(port, queryBytes(`nope.${ns}.svc.${DOMAIN}`, 'A'), { count: 2000 });
  assert.equal(got.other, got.otherAsked, 'every query of the other source answered');
  const allowed = 20 + 20 * got.seconds;
  assert.ok(got.flood <= allowed + 1, `the flood was cut to its rate (${got.flood} of 2000 answered)`);
  const limited = Number(/fedmesh_mesh_dns_rate_limited_total\{transport="udp"\} (\d+)/.exec(registry.render())?.[1]);
  assert.ok(limited >= 1800, `dropped queries counted (${limited})`);
});

test('the node agent from its config sections: a kubeconfig file, one namespace, the cluster domain', async (t) => {
  const ns = await env.namespace(t);
  const agent = await createServiceAgent(
    {
      services: { kubeconfig: env.plane.kubeconfigPath, namespace: ns, clusterDomain: 'Cluster.Example.' },
      dns: { listen: ['127.0.0.1:0'], upstreams: [], rateLimit: false },
    },
    { log },
  );
  assert.ok(agent?.catalog && agent.resolver);
  const ac = new AbortController();
  const running = agent.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
  });
  await agent.ready;
  const [l] = await agent.resolver.ready;
  const port = (l as { port: number }).port;
  const rest = await createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  await rest.request('POST', services(ns), {
    body: { metadata: { name: 'api' }, spec: { ports: [{ name: 'http', port: 8080 }] } },
  });
  const a = await until(port, `api.${ns}.svc.cluster.example`, 'A', (p) => data(p).length === 1);
  assert.match(String(data(a)[0]), /^10\.96\.0\./);
  assert.equal(rcodeOf(await query(port, 'example.com', 'A')), 2, 'no upstream: SERVFAIL');
});
