import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import { createLogger } from '../../common/log.ts';
import { entry, stubCatalog } from '../dns/testing.ts';
import { createGateway } from './gateway.ts';
import { gateway, httpServer, to, virtualService } from './testing.ts';

const fixed = (items: unknown[]): ListerWatcher => ({
  list: async () => ({ items: items as KubeObject[], metadata: { resourceVersion: '1' } }),
  async *watch(_q, signal) {
    if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  },
});

test('a WebSocket through the gateway: routed by path with rewrite, echoed both ways; no route is 404, no endpoint 503', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws, req) => ws.on('message', (m) => ws.send(`${req.url} ${m}`)));
  t.after(() => wss.close());
  const ports = [{ name: '', protocol: 'TCP' as const, port: 80, targetPort: 80 }];
  const catalog = Object.assign(
    stubCatalog([
      entry('shop', 'chat', { ports }, [
        {
          addresses: ['127.0.0.1'],
          family: 'IPv4',
          ready: true,
          serving: true,
          terminating: false,
          ports: [{ name: '', protocol: 'TCP', port: (wss.address() as AddressInfo).port }],
        },
      ]),
      entry('shop', 'empty', { ports }, []),
    ]),
    { synced: () => true },
  );
  const gw = createGateway(
    { labels: { istio: 'ingressgateway' }, bind: () => ({ host: '127.0.0.1', port: 0 }) },
    {
      catalog,
      listerWatchers: {
        gateways: fixed([gateway('gw', [httpServer(['*'])])]),
        virtualServices: fixed([
          virtualService(
            'vs',
            ['chat.example.com'],
            [
              { match: [{ uri: { prefix: '/ws/' } }], rewrite: { uri: '/socket/' }, route: [to('chat')] },
              { match: [{ uri: { prefix: '/empty' } }], route: [to('empty')] },
            ],
          ),
        ]),
      },
      log: createLogger({
        component: 'test',
        level: 'silent',
        destination: new Writable({ write: (_c, _e, cb) => cb() }),
      }),
    },
  );
  const ac = new AbortController();
  const running = gw.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
  });
  while (!gw.ready()) await new Promise((r) => setTimeout(r, 10));
  const p = Number(gw.status().ports[0]?.bound.split(':')[1]);

  const ws = new WebSocket(`ws://127.0.0.1:${p}/ws/room`, { headers: { host: 'chat.example.com' } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const replies: string[] = [];
  ws.on('message', (m) => replies.push(String(m)));
  ws.send('hello');
  ws.send('again');
  while (replies.length < 2) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(replies, ['/socket/room hello', '/socket/room again']);
  ws.close();

  const status = (path: string) =>
    new Promise<number>((resolve) => {
      const c = new WebSocket(`ws://127.0.0.1:${p}${path}`, { headers: { host: 'chat.example.com' } });
      c.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      c.once('error', () => {});
    });
  assert.equal(await status('/nothing'), 404);
  assert.equal(await status('/empty'), 503);
});
