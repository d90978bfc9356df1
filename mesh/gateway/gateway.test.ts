import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { entry, stubCatalog } from '../dns/testing.ts';
import type { Endpoint } from '../services/index.ts';
import { createGateway } from './gateway.ts';
import { gateway, httpServer, to, virtualService } from './testing.ts';

/** Our ListerWatcher interface over a fixed list (the API server paths are in test/mesh/gateway.test.ts). */
function fixed(items: unknown[]): ListerWatcher {
  return {
    list: async () => ({ items: items as KubeObject[], metadata: { resourceVersion: '1' } }),
    async *watch(_q, signal) {
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  };
}

function backend(name: string, handler?: (req: IncomingMessage, n: number) => number): Promise<Server> {
  let n = 0;
  const s = createServer((req, res) => {
    const code = handler?.(req, n++) ?? 200;
    if (code === 0) return; // never answers
    res.writeHead(code, { 'x-backend': name }).end(`${name} ${req.method} ${req.url} host=${req.headers.host}`);
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

const port = (s: Server) => (s.address() as AddressInfo).port;
const ep = (p: number, ip = '127.0.0.1'): Endpoint => ({
  addresses: [ip],
  family: 'IPv4',
  ready: true,
  serving: true,
  terminating: false,
  ports: [{ name: '', protocol: 'TCP', port: p }],
});
const svc = (name: string, endpoints: Endpoint[]) =>
  entry('shop', name, { ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 80 }] }, endpoints);

function get(p: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: p, path, headers: { host: 'shop.example.com', ...headers }, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('requests routed to Service endpoints over real HTTP: matches, rewrite, retries, timeouts, 404/503/504, logs and metrics', async (t) => {
  const v1 = await backend('v1');
  const v2 = await backend('v2');
  const flaky = await backend('flaky', (_r, n) => (n === 0 ? 503 : 200));
  const slow = await backend('slow', () => 0);
  const dead = await backend('dead');
  const deadPort = port(dead);
  await new Promise((r) => dead.close(r));
  t.after(() => {
    for (const s of [v1, v2, flaky, slow]) {
      s.closeAllConnections();
      s.close();
    }
  });
  const catalog = Object.assign(
    stubCatalog([
      svc('v1', [ep(port(v1))]),
      svc('v2', [ep(port(v2))]),
      svc('flaky', [ep(port(flaky))]),
      svc('slow', [ep(port(slow))]),
      svc('mixed', [ep(deadPort), ep(port(v2))]),
      svc('empty', []),
    ]),
    { synced: () => true },
  );
  const lines = new PassThrough();
  const logged: Record<string, unknown>[] = [];
  lines.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) if (l) logged.push(JSON.parse(l));
  });
  const log = createLogger({ component: 'test', destination: lines });
  const registry = createRegistry();
  const gw = createGateway(
    { labels: { istio: 'ingressgateway' }, bind: () => ({ host: '127.0.0.1', port: 0 }) },
    {
      catalog,
      listerWatchers: {
        gateways: fixed([gateway('gw', [httpServer(['*.example.com'])])]),
        virtualServices: fixed([
          virtualService(
            'a',
            ['shop.example.com'],
            [
              { name: 'canary', match: [{ headers: { 'x-canary': { exact: '1' } } }], route: [to('v2')] },
              { name: 'api', match: [{ uri: { prefix: '/api/' } }], rewrite: { uri: '/' }, route: [to('v1')] },
              { name: 'flaky', match: [{ uri: { exact: '/flaky' } }], route: [to('flaky')] },
              { name: 'slow', match: [{ uri: { exact: '/slow' } }], timeout: '300ms', route: [to('slow')] },
              { name: 'mixed', match: [{ uri: { exact: '/mixed' } }], route: [to('mixed')] },
              { name: 'empty', match: [{ uri: { exact: '/empty' } }], route: [to('empty')] },
              { name: 'ghost', match: [{ uri: { exact: '/ghost' } }], route: [to('ghost')] },
              { name: 'moved', match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' } },
            ],
          ),
          virtualService('bad', ['bad.example.com'], [{ match: [{ uri: { regex: '(' } }], route: [to('v1')] }]),
        ]),
      },
      log,
      registry,
    },
  );
  const ac = new AbortController();
  const running = gw.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
  });
  while (!gw.ready()) await new Promise((r) => setTimeout(r, 10));
  const [p80] = gw.status().ports;
  assert.equal(p80?.port, 80);
  const p = Number(p80?.bound.split(':')[1]);

  const canary = await get(p, '/api/x', { 'x-canary': '1' });
  assert.equal(canary.body, 'v2 GET /api/x host=shop.example.com');
  assert.equal((await get(p, '/api/items?q=1')).body, 'v1 GET /items?q=1 host=shop.example.com');
  const retried = await get(p, '/flaky');
  assert.equal(retried.status, 200, 'the 503 is retried (Istio default)');
  assert.equal((await get(p, '/slow')).status, 504);
  for (let i = 0; i < 3; i++)
    assert.equal((await get(p, '/mixed')).status, 200, 'a dead endpoint is retried elsewhere');
  assert.equal((await get(p, '/empty')).status, 503);
  assert.equal((await get(p, '/ghost')).status, 503);
  const moved = await get(p, '/old');
  assert.equal(`${moved.status} ${moved.headers.location}`, '301 http://shop.example.com/new');
  assert.equal((await get(p, '/', { host: 'nobody.example.com' })).status, 404);
  assert.equal((await get(p, '/nothing')).status, 404);
  assert.equal((await get(p, '/', { 'x-big': 'a'.repeat(20_000) })).status, 431);

  const status = gw.status().objects.find((o) => o.name === 'bad');
  assert.equal(status?.accepted, false);
  assert.equal(status?.issues[0]?.reason, 'InvalidRegex');
  const a = gw.status().objects.find((o) => o.name === 'a');
  assert.deepEqual(
    a?.issues.map((i) => i.reason),
    ['UnknownHost'],
  );

  const reqs = logged.filter((l) => l.msg === 'request');
  const flakyLine = reqs.find((l) => l.route === 'shop/a/flaky');
  assert.equal(flakyLine?.attempts, 2);
  assert.equal(flakyLine?.upstream, `127.0.0.1:${port(flaky)}`);
  assert.equal(reqs.find((l) => l.route === 'shop/a/slow')?.reason, 'timeout');
  assert.ok(logged.some((l) => l.msg === 'object refused' && l.name === 'bad'));
  const text = registry.render();
  assert.match(text, /fedmesh_gateway_requests_total\{code="2xx",route="shop\/a\/api"\} 1/);
  assert.match(text, /fedmesh_gateway_upstream_errors_total\{reason="no-endpoint",route="shop\/a\/empty"\} 1/);
});
