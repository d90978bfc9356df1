/**
 * `fedmesh gateway` as a process against a real kube-apiserver + etcd: fedmesh's Gateway and
 * VirtualService CRDs installed (v1 and v1beta1 served), real objects created through the API,
 * Services and EndpointSlices naming real HTTP backends on this host's address (no controller-manager runs,
 * so slices are written by hand). Checks routing (header, prefix with rewrite, weights), a change
 * picked up without a restart, refusals with their reasons on /status, 404/503, and SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { gatewayCrd, virtualServiceCrd } from '../../crds/istio-gateway.ts';
import { useEnvtest } from '../envtest/index.ts';
import { hostAddress } from '../health/webhook-service.ts';

const env = useEnvtest();
const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/fedmesh.ts');
const API = '/apis/networking.istio.io';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

// The API server refuses loopback endpoint addresses: the backends listen on the host's address.
const HOST = hostAddress();

function backend(name: string): Promise<Server> {
  const s = createServer((req, res) => res.end(`${name} ${req.url}`));
  return new Promise((r) => s.listen(0, HOST, () => r(s)));
}

async function service(rest: KubeRest, ns: string, name: string, port: number) {
  await rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 80, targetPort: port }] } },
  });
  await rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    body: {
      metadata: { name, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [HOST], conditions: { ready: true } }],
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    },
  });
}

/** node:http, not fetch: fetch does not send a Host header of our choosing. */
function get(port: number, path: string, host = 'shop.example.com', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('fedmesh gateway serves Gateways and VirtualServices from the API server to Services on this host', {
  skip: HOST ? false : 'no non-loopback IPv4 address',
}, async (t) => {
  const rest = await createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  for (const crd of [gatewayCrd(), virtualServiceCrd()]) {
    await rest.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  }
  await until('the CRDs to be served', async () => {
    await rest.request('GET', `${API}/v1beta1/gateways`);
    await rest.request('GET', `${API}/v1/virtualservices`);
    return true;
  });
  const ns = await env.namespace(t);
  const [v1, v2] = [await backend('v1'), await backend('v2')];
  t.after(() => {
    v1.close();
    v2.close();
  });
  await service(rest, ns, 'v1', (v1.address() as AddressInfo).port);
  await service(rest, ns, 'v2', (v2.address() as AddressInfo).port);

  // The Gateway through v1beta1, VirtualServices through v1: one resource, either version.
  await rest.request('POST', `${API}/v1beta1/namespaces/${ns}/gateways`, {
    body: {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'Gateway',
      metadata: { name: 'edge' },
      spec: {
        selector: { istio: 'ingressgateway' },
        servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*.example.com'] }],
      },
    },
  });
  const vs = (name: string, hosts: string[], http: unknown[]) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name },
    spec: { hosts, gateways: ['edge'], http },
  });
  await rest.request('POST', `${API}/v1/namespaces/${ns}/virtualservices`, {
    body: vs(
      'shop',
      ['shop.example.com'],
      [
        {
          name: 'canary',
          match: [{ headers: { 'x-canary': { exact: 'on' } } }],
          route: [{ destination: { host: 'v2' } }],
        },
        {
          name: 'api',
          match: [{ uri: { prefix: '/api/' } }],
          rewrite: { uri: '/' },
          route: [{ destination: { host: 'v1', port: { number: 80 } } }],
        },
        {
          name: 'split',
          route: [
            { destination: { host: 'v1' }, weight: 50 },
            { destination: { host: 'v2' }, weight: 50 },
          ],
        },
      ],
    ),
  });
  await rest.request('POST', `${API}/v1/namespaces/${ns}/virtualservices`, {
    body: vs(
      'broken',
      ['broken.example.com'],
      [{ match: [{ uri: { regex: '(a' } }], route: [{ destination: { host: 'v1' } }] }],
    ),
  });
  await rest.request('POST', `${API}/v1/namespaces/${ns}/virtualservices`, {
    body: vs('nowhere', ['nowhere.example.com'], [{ route: [{ destination: { host: 'ghost' } }] }]),
  });

  const dir = mkdtempSync(join(tmpdir(), 'fm-gw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [gwPort, http] = [await freePort(), await freePort()];
  const logFile = join(dir, 'gateway.log');
  const proc = spawnManaged({
    name: 'gateway',
    cmd: process.execPath,
    args: [
      CLI,
      'gateway',
      '--kubeconfig',
      env.plane.kubeconfigPath,
      '--bind',
      '127.0.0.1',
      '--port-map',
      `80=${gwPort}`,
      '--http-listen',
      `127.0.0.1:${http}`,
      '--no-destination-rules',
    ],
    logFile,
  });
  t.after(() => proc.stop('SIGKILL'));
  const logs = () => readFileSync(logFile, 'utf8');
  await until('/readyz', async () => ((await fetch(`http://127.0.0.1:${http}/readyz`)).ok ? true : undefined)).catch(
    (err) => {
      throw new Error(`${(err as Error).message}\n${logs().slice(-3000)}`);
    },
  );

  const first = await get(gwPort, '/x', 'shop.example.com', { 'x-canary': 'on' });
  assert.equal(first.body, 'v2 /x', `${first.status} ${logs().slice(-3000)}`);
  assert.equal((await get(gwPort, '/api/items?a=1')).body, 'v1 /items?a=1');
  const seen = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const b = (await get(gwPort, '/')).body.split(' ')[0] ?? '';
    seen.set(b, (seen.get(b) ?? 0) + 1);
  }
  // 50/50 over 200: chi-square with 1 degree of freedom below 10.83 (p = 0.001).
  const chi = (((seen.get('v1') ?? 0) - 100) ** 2 + ((seen.get('v2') ?? 0) - 100) ** 2) / 100;
  assert.ok(chi < 10.83, `split ${JSON.stringify([...seen])}`);
  assert.equal((await get(gwPort, '/', 'nowhere.example.com')).status, 503);
  assert.equal((await get(gwPort, '/', 'broken.example.com')).status, 404);
  assert.equal((await get(gwPort, '/', 'other.org')).status, 404);

  const status = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
    objects: { name: string; accepted: boolean; issues: { reason: string; path: string }[] }[];
  };
  const of = (name: string) => status.objects.find((o) => o.name === name);
  assert.equal(of('edge')?.accepted, true);
  assert.deepEqual(
    [of('broken')?.accepted, of('broken')?.issues[0]?.reason, of('broken')?.issues[0]?.path],
    [false, 'InvalidRegex', 'spec.http[0]'],
  );
  assert.deepEqual([of('nowhere')?.accepted, of('nowhere')?.issues[0]?.reason], [true, 'UnknownHost']);

  // The outcome as an Event on the object (kubectl describe shows it).
  const events = await until('the Event of the refused VirtualService', async () => {
    const list = await rest.request<{
      items: { involvedObject: { name: string; kind: string }; reason: string; type: string }[];
    }>('GET', `/api/v1/namespaces/${ns}/events`);
    const e = list.items.find((i) => i.involvedObject.name === 'broken');
    return e ? list.items : undefined;
  });
  assert.deepEqual(
    events.filter((e) => e.involvedObject.name === 'broken').map((e) => [e.involvedObject.kind, e.type, e.reason]),
    [['VirtualService', 'Warning', 'InvalidRegex']],
  );
  assert.ok(events.some((e) => e.involvedObject.name === 'edge' && e.reason === 'Accepted'));

  // A change through the API is served without a restart.
  const cur = await rest.request<{ metadata: { resourceVersion: string }; spec: object }>(
    'GET',
    `${API}/v1/namespaces/${ns}/virtualservices/shop`,
  );
  await rest.request('PUT', `${API}/v1/namespaces/${ns}/virtualservices/shop`, {
    body: {
      ...vs('shop', ['shop.example.com'], [{ route: [{ destination: { host: 'v2' } }] }]),
      metadata: { name: 'shop', resourceVersion: cur.metadata.resourceVersion },
    },
  });
  await until(
    'the new route',
    async () => ((await get(gwPort, '/api/x')).body === 'v2 /api/x' ? true : undefined),
    10_000,
  );

  const lines = logs()
    .split('\n')
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l));
  const api = lines.find((l) => l.route === `${ns}/shop/api`);
  assert.equal(api?.upstream, `${HOST}:${(v1.address() as AddressInfo).port}`);
  assert.equal(api?.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  assert.match(metrics, new RegExp(`fedmesh_gateway_requests_total\\{code="2xx",route="${ns}/shop/split"\\} 200`));

  proc.signal('SIGTERM');
  assert.equal(await proc.exited, 0);
  await assert.rejects(get(gwPort, '/'), 'the gateway port is closed');
});
