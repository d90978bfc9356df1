/** The resolver's listeners on loopback: UDP and TCP on one port, framing, limits, rate limit, stop. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { decode } from 'dns-packet';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { createDnsResolver, type DnsResolverInit } from './index.ts';
import { entry, floodFrom, query, queryBytes, rcodeOf, stubCatalog, tcpExchange, udpExchange } from './testing.ts';

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

async function start(t: TestContext, init: Partial<DnsResolverInit> = {}) {
  const registry = createRegistry();
  const catalog = stubCatalog([entry('demo', 'web', { clusterIPs: ['10.96.0.10'] })]);
  const r = createDnsResolver(
    { listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [], ...init },
    { catalog, log, registry },
  );
  const ac = new AbortController();
  const running = r.start(ac.signal);
  const [l] = await r.ready;
  t.after(async () => {
    ac.abort();
    await running;
  });
  return {
    port: (l as { port: number }).port,
    registry,
    stop: async () => {
      ac.abort();
      await running;
    },
  };
}

test('UDP and TCP on one port; pipelined TCP queries each answered; no upstream → SERVFAIL', async (t) => {
  const { port } = await start(t);
  assert.deepEqual(
    (await query(port, 'web.demo.svc.cluster.local', 'A')).answers?.map((a) => ('data' in a ? a.data : '')),
    ['10.96.0.10'],
  );
  const answers = await tcpExchange(port, [
    queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 }),
    queryBytes('nope.demo.svc.cluster.local', 'A', { id: 2 }),
    queryBytes('example.com', 'A', { id: 3 }),
  ]);
  const byId = new Map(answers.map((b) => decode(b)).map((p) => [p.id, rcodeOf(p)]));
  assert.deepEqual([byId.get(1), byId.get(2), byId.get(3)], [0, 3, 2]);
});

test('TCP: a length over the limit or under a header closes the connection; the listener keeps serving', async (t) => {
  const { port, registry } = await start(t);
  for (const len of [65_000, 5]) {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from([len >> 8, len & 255, 0, 0])));
      s.on('error', () => {});
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    });
    assert.equal(closed, true, `length ${len}`);
  }
  assert.equal(rcodeOf(await query(port, 'web.demo.svc.cluster.local', 'A', { tcp: true })), 0);
  assert.match(registry.render(), /fedmesh_mesh_dns_malformed_total\{transport="tcp",what="oversized"\} 1/);
});

test('TCP: connections that send nothing are closed at the deadline, and the per-source limit holds', async (t) => {
  const { port, registry } = await start(t, {
    tcpLimits: { maxConnections: 10, maxConnectionsPerSource: 2, handshakeTimeoutMs: 300 },
  });
  const idle = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<number>((resolve) => {
          const t0 = performance.now();
          const s = connect({ host: '127.0.0.1', port });
          s.on('error', () => {});
          s.on('close', () => resolve(performance.now() - t0));
        }),
    ),
  );
  assert.equal(idle.length, 3);
  const text = registry.render();
  assert.match(text, /fedmesh_listener_refused_total\{listener="dns",reason="per-source"\} 1/);
  assert.match(text, /fedmesh_listener_handshake_timeouts_total\{listener="dns"\} 2/);
});

test('a flood from one source is dropped beyond its rate while another source is still answered', async (t) => {
  const { port, registry } = await start(t, { rateLimit: { qps: 5, burst: 10 } });
  const got = await floodFrom(port, queryBytes('web.demo.svc.cluster.local', 'A'), { count: 1000 });
  assert.equal(got.other, got.otherAsked, 'every query of the other source answered');
  const allowed = 10 + 5 * got.seconds;
  assert.ok(got.flood >= 10 && got.flood <= allowed + 1, `the flood got its burst and rate only (${got.flood})`);
  const limited = /fedmesh_mesh_dns_rate_limited_total\{transport="udp"\} (\d+)/.exec(registry.render());
  assert.ok(Number(limited?.[1]) >= 900, 'the rest counted');
});

test('stopping closes both listeners; a bad listen address rejects start and ready', async (t) => {
  const { port, stop } = await start(t);
  await stop();
  assert.equal(await udpExchange(port, queryBytes('web.demo.svc.cluster.local', 'A'), 300), undefined);
  assert.deepEqual(await tcpExchange(port, [queryBytes('web.demo.svc.cluster.local', 'A')]), []);
  const r = createDnsResolver({ listen: [{ host: '192.0.2.1', port: 0 }], upstreams: [] }, { log });
  await assert.rejects(r.start(AbortSignal.timeout(1000)));
  await assert.rejects(r.ready);
  assert.throws(() => createDnsResolver({ listen: [], upstreams: [] }, { log }), { code: 'ERR_CONFIG' });
  assert.throws(() => createDnsResolver({ listen: [{ host: '127.0.0.1', port: 0 }], clusterDomain: 'a..b' }, { log }), {
    code: 'ERR_CONFIG',
  });
});
