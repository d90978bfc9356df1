import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRegistry } from '../../common/metrics.ts';
import type { Endpoint, ServiceChange, ServiceEntry } from '../services/index.ts';
import { clusterIPKey } from '../services/model.ts';
import { connectUdp, spliceDatagrams } from '../tunnel/datagram.ts';
import type { DestinationRules } from './destination-rules.ts';
import { createServiceProxy, type ProxyCatalog } from './proxy.ts';
import type { ProxyMesh } from './route.ts';
import type { Steering, SteerRule } from './rules.ts';

const log = pino({ level: 'silent' });

function fakeCatalog() {
  const entries = new Map<string, ServiceEntry>();
  const listeners = new Set<(c: ServiceChange) => void>();
  const catalog: ProxyCatalog & { set(e: ServiceEntry): void; remove(name: string): void } = {
    entries: () => entries.values(),
    waitForSync: async () => true,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    byClusterIP(ip, port, protocol = 'TCP') {
      for (const entry of entries.values())
        if (entry.service.clusterIPs.includes(ip))
          for (const p of entry.service.ports)
            if (clusterIPKey(ip, p.port, p.protocol) === clusterIPKey(ip, port, protocol)) return { entry, port: p };
      return undefined;
    },
    set(e) {
      entries.set(e.service.name, e);
      for (const l of listeners) l({ namespace: 'demo', name: e.service.name, entry: e });
    },
    remove(name) {
      entries.delete(name);
      for (const l of listeners) l({ namespace: 'demo', name });
    },
  };
  return catalog;
}

function fakeSteering() {
  const applied: SteerRule[][] = [];
  let clears = 0;
  const steering: Steering & { applied: SteerRule[][]; clears(): number } = {
    backend: 'nft',
    applied,
    clears: () => clears,
    apply: async (rules) => {
      applied.push([...rules]);
    },
    clear: async () => {
      clears++;
    },
  };
  return steering;
}

const ep = (
  address: string,
  nodeName: string | undefined,
  ports: Endpoint['ports'],
  extra: Partial<Endpoint> = {},
): Endpoint => ({
  addresses: [address],
  family: 'IPv4',
  ...(nodeName ? { nodeName } : {}),
  ready: true,
  serving: true,
  terminating: false,
  ports,
  ...extra,
});

const web = (endpoints: Endpoint[]): ServiceEntry => ({
  service: {
    namespace: 'demo',
    name: 'web',
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.10'],
    headless: false,
    ports: [
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: 'dns' },
    ],
    sessionAffinity: 'None',
  },
  endpoints,
});

/** A TCP server on 127.0.0.1 answering `id:<first chunk>`. */
async function whoami(id: string): Promise<Server> {
  const s = createServer((c) => c.once('data', (d) => c.end(`${id}:${d}`)));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;

function ask(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.write(payload));
    let out = '';
    c.on('data', (d) => {
      out += d;
    });
    c.on('end', () => resolve(out));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(`ERR ${e.code}`));
  });
}

function fakeMesh(opened: Array<{ node: string; proto?: string }>, refuse = new Set<string>()): ProxyMesh {
  return {
    name: 'self',
    pathTo: (node) => ({ path: 'relayed', rttMs: node === 'far' ? 80 : 10 }),
    async openTunnel(opts) {
      opened.push({ node: opts.node, proto: opts.proto });
      if (refuse.has(opts.node)) throw new Error('refused');
      // The responder side, in process: dial the target as the remote node would.
      const [mine, theirs] = duplexPair();
      if (opts.proto === 'udp') spliceDatagrams(await connectUdp(opts.host, opts.port), theirs);
      else {
        const s = connect(opts.port, opts.host);
        s.pipe(theirs).pipe(s);
        s.on('error', () => theirs.destroy());
      }
      return mine as Duplex;
    },
  };
}

test('listeners and rules follow the catalog; local endpoints dialled directly, remote ones through a tunnel; a failing endpoint is skipped; no endpoint is a reset', async (t) => {
  const local = await whoami('local');
  const remote = await whoami('remote');
  t.after(() => {
    local.close();
    remote.close();
  });
  const catalog = fakeCatalog();
  const steering = fakeSteering();
  const opened: Array<{ node: string }> = [];
  const registry = createRegistry();
  const proxy = createServiceProxy({}, { catalog, mesh: fakeMesh(opened, new Set(['bad'])), steering, log, registry });
  const ac = new AbortController();
  catalog.set(web([ep('127.0.0.1', 'self', [{ name: 'http', protocol: 'TCP', port: portOf(local) }])]));
  const running = proxy.start(ac.signal);
  await proxy.ready;
  assert.equal(steering.clears(), 1, 'stale rules cleared at start');
  const rules = steering.applied.at(-1) ?? [];
  assert.deepEqual(rules.map((r) => [r.clusterIP, r.port, r.protocol]).sort(), [
    ['10.96.0.10', 53, 'UDP'],
    ['10.96.0.10', 80, 'TCP'],
  ]);
  const tcpPort = rules.find((r) => r.protocol === 'TCP')?.localPort as number;
  assert.equal(await ask(tcpPort, 'a'), 'local:a');
  assert.deepEqual(proxy.explain('demo', 'web')?.ports.find((p) => p.protocol === 'TCP')?.endpoints, [
    {
      address: '127.0.0.1',
      port: portOf(local),
      node: 'self',
      usable: true,
      locality: 'local',
      path: 'local',
      penalized: false,
    },
  ]);
  assert.equal(proxy.explain('demo', 'nope'), undefined);

  // Only remote endpoints: through a tunnel to their node; the refusing one is tried, then skipped.
  catalog.set(
    web([
      ep('127.0.0.1', 'bad', [{ name: 'http', protocol: 'TCP', port: 1 }]),
      ep('127.0.0.2', 'good', [{ name: 'http', protocol: 'TCP', port: portOf(remote) }], { addresses: ['127.0.0.1'] }),
    ]),
  );
  const answers = await Promise.all([1, 2, 3, 4].map((i) => ask(tcpPort, `r${i}`)));
  assert.deepEqual(answers, ['remote:r1', 'remote:r2', 'remote:r3', 'remote:r4']);
  assert.ok(opened.some((o) => o.node === 'bad') && opened.some((o) => o.node === 'good'));
  const remoteView = proxy.explain('demo', 'web')?.ports.find((p) => p.protocol === 'TCP')?.endpoints;
  assert.deepEqual(
    remoteView?.map((e) => [e.node, e.locality, e.path, e.penalized, e.rttMs]),
    [
      ['bad', 'remote', 'mesh-relayed', true, 10],
      ['good', 'remote', 'mesh-relayed', false, 10],
    ],
  );
  const text = registry.render();
  assert.match(
    text,
    /fedmesh_mesh_proxy_connections_total\{path="mesh-relayed",protocol="tcp",service="demo\/web"\} 4/,
  );
  assert.match(text, /fedmesh_mesh_proxy_connections_total\{path="local",protocol="tcp",service="demo\/web"\} 1/);

  // Not ready / terminating endpoints get nothing: with only those, a reset.
  catalog.set(
    web([ep('127.0.0.1', 'self', [{ name: 'http', protocol: 'TCP', port: portOf(local) }], { terminating: true })]),
  );
  assert.equal(await ask(tcpPort, 'x'), 'ERR ECONNRESET');

  // The Service goes: its rules and listeners go.
  catalog.remove('web');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(steering.applied.at(-1), []);
  assert.match(await ask(tcpPort, 'y'), /^ERR ECONNREFUSED/);
  ac.abort();
  await running;
  assert.equal(steering.clears(), 2, 'rules removed at stop');
});

test('UDP: a remote flow rides a udp tunnel; after the tunnel resets, the next datagram opens a new one', async (t) => {
  const server = createSocket('udp4');
  server.on('message', (m, r) => server.send(`echo:${m}`, r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  t.after(() => server.close());
  const catalog = fakeCatalog();
  const steering = fakeSteering();
  const opened: Array<{ node: string; proto?: string }> = [];
  const tunnels: Duplex[] = [];
  const mesh = fakeMesh(opened);
  const open = mesh.openTunnel;
  mesh.openTunnel = async (o) => {
    const d = await open(o);
    tunnels.push(d);
    return d;
  };
  const proxy = createServiceProxy({ udpIdleMs: 5_000 }, { catalog, mesh, steering, log });
  catalog.set(web([ep('127.0.0.1', 'far', [{ name: 'dns', protocol: 'UDP', port: server.address().port }])]));
  const ac = new AbortController();
  const running = proxy.start(ac.signal);
  await proxy.ready;
  const udpPort = steering.applied.at(-1)?.find((r) => r.protocol === 'UDP')?.localPort as number;
  const client = createSocket('udp4');
  t.after(() => client.close());
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  const exchange = (payload: string) =>
    new Promise<string>((resolve) => {
      client.once('message', (m) => resolve(String(m)));
      client.send(payload, udpPort, '127.0.0.1');
    });
  assert.equal(await exchange('one'), 'echo:one');
  assert.equal(await exchange('two'), 'echo:two');
  assert.deepEqual(opened, [{ node: 'far', proto: 'udp' }], 'one tunnel for the flow');
  tunnels[0]?.destroy(new Error('stream reset'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await exchange('three'), 'echo:three');
  assert.equal(opened.length, 2, 'a new stream after the reset');
  ac.abort();
  await running;
});

test('HTTP cookie hash through the proxy: the first response issues the cookie, requests carrying it stick to its endpoint', async (t) => {
  const servers = await Promise.all(
    ['h1', 'h2', 'h3'].map(async (id) => {
      const s = createHttpServer((_req, res) => res.end(id));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  t.after(() => {
    for (const s of servers) s.close();
  });
  const catalog = fakeCatalog();
  const steering = fakeSteering();
  const rules: DestinationRules = {
    start: async () => {},
    onChange: () => {},
    policyFor: () => ({ policy: { consistentHash: { httpCookie: { name: 'sid', ttlS: 60 } } }, rule: 'demo/web' }),
  };
  const proxy = createServiceProxy({}, { catalog, mesh: fakeMesh([]), steering, rules, log });
  // Three endpoints on this node, on 127.0.0.1/.2/.3 (all loopback).
  catalog.set(
    web(
      servers.map((s, i) =>
        ep(`127.0.0.${i + 1}`, 'self', [{ name: 'http', protocol: 'TCP', port: (s.address() as AddressInfo).port }]),
      ),
    ),
  );
  const ac = new AbortController();
  const running = proxy.start(ac.signal);
  await proxy.ready;
  const port = steering.applied.at(-1)?.find((r) => r.protocol === 'TCP')?.localPort as number;
  const get = (cookie?: string) =>
    new Promise<{ body: string; setCookie?: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/', agent: false, headers: cookie ? { cookie } : {} },
        (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve({ body, setCookie: res.headers['set-cookie']?.[0] }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const first = await get();
  assert.match(first.setCookie ?? '', /^sid=[0-9a-f]{8}; Path=\/; HttpOnly; Max-Age=60$/);
  const cookie = (first.setCookie ?? '').split(';')[0] as string;
  for (let i = 0; i < 6; i++) {
    const r = await get(cookie);
    assert.equal(r.body, first.body, 'the cookie leads back to the same endpoint');
    assert.equal(r.setCookie, undefined, 'no new cookie when the request has one');
  }
  const fresh = await Promise.all([1, 2, 3].map(() => get()));
  assert.ok(
    fresh.every((r) => r.setCookie),
    'each client without the cookie gets one',
  );
  ac.abort();
  await running;
});
