/**
 * `npm run bench -- gateway [seconds]`: HTTP/1.1 through `fedmesh gateway`'s data path vs straight
 * to the backend, same run. The gateway runs in a worker thread (its own event loop, as its own
 * process would have), fed fixed Gateway/VirtualService lists and a catalog stub naming the
 * backend on loopback (a direct path); the backend and the clients share the main thread.
 *   - closed loop: 8 concurrent keep-alive clients, `seconds` (default 2) each way, 5 paired rounds
 *     (order swapped each round) → `gateway_rps_ratio`: the median of through / direct (target ≥ 0.5);
 *   - open loop at 200 requests/s for `seconds` each way → p50/p99, `gateway_p99_added_ms`
 *     (target ≤ 3); `backend_connections_open_loop`: connections the backend accepted meanwhile
 *     (keep-alive working: a handful, not one per request).
 * TLS is not served yet, so `tls_handshakes_per_s` is absent.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { quantile, round } from './stats.ts';

const CONCURRENCY = 8;
const OPEN_RPS = 200;
const ROUNDS = 5;

async function gatewayWorker(backendPort: number): Promise<void> {
  const { createLogger } = await import('../common/log.ts');
  const { entry, stubCatalog } = await import('../mesh/dns/testing.ts');
  const { createGateway } = await import('../mesh/gateway/gateway.ts');
  const { gateway, httpServer, to, virtualService } = await import('../mesh/gateway/testing.ts');
  const fixed = (items: unknown[]) => ({
    list: async () => ({ items: items as never[], metadata: { resourceVersion: '1' } }),
    async *watch(_q: unknown, signal: AbortSignal) {
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  });
  const catalog = Object.assign(
    stubCatalog([
      entry('shop', 'web', { ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 80 }] }, [
        {
          addresses: ['127.0.0.1'],
          family: 'IPv4',
          ready: true,
          serving: true,
          terminating: false,
          ports: [{ name: '', protocol: 'TCP', port: backendPort }],
        },
      ]),
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
            ['shop.example.com'],
            [
              { name: 'other', match: [{ headers: { 'x-never': { exact: '1' } } }], route: [to('web')] },
              { name: 'web', match: [{ uri: { prefix: '/' } }], route: [to('web')] },
            ],
          ),
        ]),
      },
      log: createLogger({ component: 'bench', level: 'silent' }),
    },
  );
  const ac = new AbortController();
  const running = gw.start(ac.signal);
  while (!gw.ready()) await new Promise((r) => setTimeout(r, 10));
  parentPort?.postMessage(Number(gw.status().ports[0]?.bound.split(':')[1]));
  parentPort?.once('message', () => ac.abort());
  await running;
}

function get(agent: Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/item', agent, headers: { host: 'shop.example.com' } },
      (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

async function closedLoop(port: number, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await get(agent, port);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / seconds;
}

async function openLoop(port: number, seconds: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true });
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < OPEN_RPS * seconds; i++) {
    const at = t0 + (i * 1000) / OPEN_RPS;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    pending.push(get(agent, port).then(() => void lat.push(performance.now() - s)));
  }
  await Promise.all(pending);
  agent.destroy();
  return lat;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(args[0] ?? 2);
  const backend = createServer((_req, res) => res.end('ok'));
  let connections = 0;
  backend.on('connection', () => connections++);
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as AddressInfo).port;
  const worker = new Worker(new URL(import.meta.url), { workerData: { gatewayWorker: backendPort } });
  const gwPort = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  try {
    await closedLoop(gwPort, 1); // warm-up: connections, JIT
    await closedLoop(backendPort, 1);
    // Paired rounds, order swapped each round: the machine's load drifts between measurements.
    const ratios: number[] = [];
    const direct: number[] = [];
    const through: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pair = r % 2 ? [gwPort, backendPort] : [backendPort, gwPort];
      const got = new Map<number, number>();
      for (const port of pair) got.set(port, await closedLoop(port, seconds));
      direct.push(got.get(backendPort) as number);
      through.push(got.get(gwPort) as number);
      ratios.push((got.get(gwPort) as number) / (got.get(backendPort) as number));
    }
    const connsBefore = connections;
    const latDirect = await openLoop(backendPort, seconds);
    const latThrough = await openLoop(gwPort, seconds);
    const p = (s: number[], q: number) => round(quantile(s, q), 2);
    return {
      gateway_rps_ratio: round(quantile(ratios, 0.5)),
      rps_gateway: Math.round(quantile(through, 0.5)),
      rps_direct: Math.round(quantile(direct, 0.5)),
      rounds: ROUNDS,
      backend_connections_open_loop: connections - connsBefore,
      gateway_p99_added_ms: round(p(latThrough, 0.99) - p(latDirect, 0.99), 2),
      p50_ms_gateway: p(latThrough, 0.5),
      p99_ms_gateway: p(latThrough, 0.99),
      p50_ms_direct: p(latDirect, 0.5),
      p99_ms_direct: p(latDirect, 0.99),
      concurrency: CONCURRENCY,
      open_loop_rps: OPEN_RPS,
      seconds,
    };
  } finally {
    worker.postMessage('stop');
    await new Promise((r) => worker.once('exit', r));
    backend.closeAllConnections();
    backend.close();
  }
}

if (!isMainThread && (workerData as { gatewayWorker?: number })?.gatewayWorker) {
  await gatewayWorker((workerData as { gatewayWorker: number }).gatewayWorker);
}
