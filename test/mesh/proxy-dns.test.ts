/**
 * The first test, by name: a client in LAN A resolves `web.proxy-demo.svc.<domain>` with
 * `dig` against its node agent's DNS (a cluster domain other than cluster.local) and reaches the
 * backend in LAN B through the proxy — raw TCP, UDP, HTTP/1.1 keep-alive, h2c, TLS passthrough and
 * WebSocket. Then the same between two hosts of one LAN with the LAN's public segment cut: the
 * agents answer from the catalog they hold and tunnel directly (found by mDNS). Bad input: a
 * Service whose endpoints all vanish refuses (resets) its connections, others are still served.
 * Without `dig` (scripts/setup.sh installs bind9-dnsutils) the resolving step is skipped, said so
 * in the test's diagnostics, and the ClusterIP is used as is.
 *
 *   pub   r1 (relay), root (API server)
 *   lana  a1 (agent + DNS, client), a2 (agent, a server)      lanb  b1 (agent, the servers)
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { Host } from '../../netlab/index.ts';
import { until } from './harness.ts';
import { ask, askProtocols, NS, startProxyLab } from './proxy-lab.ts';

const DOMAIN = 'edge.example';
const NAME = `web.${NS}.svc.${DOMAIN}`;
const DNS = { listen: ['127.0.0.1:53'], upstreams: [] };

/** `dig +short` from `h` against its node's resolver; undefined when dig is not installed. */
async function dig(t: TestContext, h: Host, name: string): Promise<string[] | undefined> {
  const r = await h.exec('dig', ['+short', '+time=1', '+tries=2', '@127.0.0.1', name, 'A']);
  if (r.code === 127 || /ENOENT|not found/.test(r.stderr)) {
    t.diagnostic('dig is not installed (apt package bind9-dnsutils, scripts/setup.sh): resolving step skipped');
    return undefined;
  }
  // dig prints its own failures (";; communications error ...") on stdout too.
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith(';'));
}

/** Resolves NAME with dig on `h` once the agent serves it; the ClusterIP when dig is absent. */
async function resolve(t: TestContext, h: Host, ip: string): Promise<string> {
  const got = await until(
    `${NAME} to resolve`,
    async () => {
      const r = await dig(t, h, NAME).catch(() => [] as string[]);
      return r === undefined ? [ip] : r.length > 0 ? r : undefined;
    },
    30_000,
  );
  assert.deepEqual(got, [ip], `dig answers the ClusterIP: ${got}`);
  return got[0] as string;
}

test('dig resolves the Service name against the node agent and the client in LAN A reaches the backend in LAN B over every protocol; with all of its endpoints gone its connections are refused and the agent serves another Service', async (t) => {
  const p = await startProxyLab(t);
  const { m, ip } = p;
  const a1 = m.host('a1');
  await p.setEndpoints([['b1']]);
  p.server('b1', m.addr('b1'), 'b1');
  await p.protoServers('b1');
  await p.agent('b1');
  await p.agent('a1', undefined, { services: { clusterDomain: DOMAIN }, dns: DNS });

  const addr = await resolve(t, a1, ip);
  assert.equal((await dig(t, a1, `nope.${NS}.svc.${DOMAIN}`))?.length ?? 0, 0, 'an unknown Service has no address');
  await p.reach(a1, 'b1');
  assert.deepEqual(await ask(a1, 'tcp', addr, 80, 'hello', 2), ['b1:hello0', 'b1:hello1']);
  assert.deepEqual(await ask(a1, 'udp', addr, 53, 'ping', 2), ['b1:ping0', 'b1:ping1']);
  const proto = await until(
    'the protocol servers to answer',
    async () => {
      const r = await askProtocols(a1, addr, p.caFile);
      return r.error ? undefined : r;
    },
    15_000,
  );
  assert.deepEqual(
    (proto.http as string[]).map((x) => x.split(':')[1]),
    ['/a', '/b', '/c'],
  );
  assert.deepEqual(proto.h2, ['h2:/x', 'h2:/y']);
  assert.equal(proto.tls, 'tls:/t');
  assert.equal(proto.ws, 'ws:hi');

  // Bad input: every endpoint of web vanishes. Its connections are refused or reset, its name
  // still resolves, and the agent keeps serving another Service (api, same backend server).
  const api = await p.rest.request<{ spec: { clusterIP: string } }>('POST', `/api/v1/namespaces/${NS}/services`, {
    body: {
      metadata: { name: 'api' },
      spec: { ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 7000 }] },
    },
  });
  await p.rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
    body: {
      metadata: { name: 'api-1', labels: { 'kubernetes.io/service-name': 'api' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [m.addr('b1')], nodeName: 'b1', conditions: { ready: true } }],
      ports: [{ name: 'http', protocol: 'TCP', port: 7000 }],
    },
  });
  await p.setEndpoints([]);
  const refused = await until(
    'web to have no endpoint',
    async () => {
      const [r] = await ask(a1, 'tcp', addr, 80, 'gone');
      return r?.startsWith('ERR') ? r : undefined;
    },
    15_000,
  );
  assert.match(refused, /^ERR ECONN(RESET|REFUSED)$/);
  const apiIp = api.spec.clusterIP;
  await until(
    'api to answer',
    async () => ((await ask(a1, 'tcp', apiIp, 80, 'api'))[0] === 'b1:api0' ? true : undefined),
    30_000,
  );
  assert.deepEqual(await ask(a1, 'tcp', apiIp, 80, 'x', 2), ['b1:x0', 'b1:x1'], 'the agent serves api');
  assert.deepEqual(await ask(a1, 'tcp', addr, 80, 'y', 2), [refused, refused], 'web stays refused');
  assert.deepEqual(await dig(t, a1, `api.${NS}.svc.${DOMAIN}`).then((r) => r ?? [apiIp]), [apiIp]);
});

test('with the public segment cut for two hosts of one LAN, dig still resolves and the proxy reaches the other host directly over every protocol (mDNS)', async (t) => {
  const p = await startProxyLab(t, { nodes: ['r1', 'a1', 'a2'] });
  const { m, ip } = p;
  const a1 = m.host('a1');
  await p.setEndpoints([['a2']]);
  p.server('a2', m.addr('a2'), 'a2');
  await p.protoServers('a2');
  await p.agent('a2');
  await p.agent('a1', undefined, { services: { clusterDomain: DOMAIN }, dns: DNS });
  await until(
    'a1 to find a2 on the LAN',
    async () =>
      (
        await p
          .mesh('a1')
          .status()
          .catch(() => ({ peers: [] as Array<{ node: string; route?: string }> }))
      ).peers.find((x) => x.node === 'a2')?.route === 'direct'
        ? true
        : undefined,
    20_000,
  );
  await resolve(t, a1, ip);
  await p.reach(a1, 'a2');

  // The LAN's uplink goes down: no relay, no API server, no public segment.
  await m.lab.host('ra').cutLink('pub');
  const addr = await resolve(t, a1, ip);
  assert.deepEqual(await ask(a1, 'tcp', addr, 80, 'cut', 3), ['a2:cut0', 'a2:cut1', 'a2:cut2']);
  assert.deepEqual(await ask(a1, 'udp', addr, 53, 'u', 2), ['a2:u0', 'a2:u1']);
  const proto = await until(
    'the protocol servers to answer',
    async () => {
      const r = await askProtocols(a1, addr, p.caFile);
      return r.error ? undefined : r;
    },
    15_000,
  );
  assert.equal((proto.http as string[]).length, 3, JSON.stringify(proto));
  assert.deepEqual(proto.h2, ['h2:/x', 'h2:/y']);
  assert.equal(proto.tls, 'tls:/t');
  assert.equal(proto.ws, 'ws:hi');
  const peer = (await p.mesh('a1').status()).peers.find((x) => x.node === 'a2');
  assert.equal(peer?.route, 'direct', `a2 reached directly: ${JSON.stringify(peer)}`);
});
