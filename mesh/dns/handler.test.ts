import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { decode, encode, type OptAnswer, type Question } from 'dns-packet';
import fc from 'fast-check';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import type { Endpoint } from '../services/index.ts';
import { createDnsCache } from './cache.ts';
import { createClusterZone } from './cluster.ts';
import { createQueryHandler } from './handler.ts';
import { dnsMetrics } from './metrics.ts';
import { entry, queryBytes, rcodeOf, stubCatalog } from './testing.ts';
import { type Forwarder, UpstreamError } from './upstream.ts';

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

const ep = (i: number): Endpoint => ({
  addresses: [`10.244.${i >> 8}.${i & 255}`],
  family: 'IPv4',
  ready: true,
  serving: true,
  terminating: false,
  ports: [],
});

function setup(
  forward: Forwarder['forward'] = async (q) => ({
    rcode: 0,
    answers: [{ name: q.name, type: 'A', ttl: 30, data: '192.0.2.7' }],
    authorities: [],
    additionals: [],
    upstream: 'stub',
  }),
) {
  const catalog = stubCatalog([
    entry('demo', 'web', { clusterIPs: ['10.96.0.10'] }),
    entry(
      'demo',
      'big',
      { headless: true },
      Array.from({ length: 60 }, (_, i) => ep(i + 1)),
    ),
    entry('demo', 'ext', { type: 'ExternalName', externalName: 'db.example.com' }),
    entry('demo', 'alias', { type: 'ExternalName', externalName: 'web.demo.svc.cluster.local' }),
  ]);
  const registry = createRegistry();
  const cache = createDnsCache({ size: 100, maxTtl: 3600, maxNegativeTtl: 300 });
  let calls = 0;
  const handler = createQueryHandler({
    zone: createClusterZone({ domain: 'cluster.local', ttl: 5 }, catalog),
    forwarder: {
      forward: (q: Question, s: AbortSignal) => {
        calls++;
        return forward(q, s);
      },
    },
    cache,
    metrics: dnsMetrics(registry, () => cache.size),
    log,
    forwardDeadlineMs: 1000,
    maxForwards: 16,
  });
  return { handler, registry, calls: () => calls };
}

test('UDP answers over 512 bytes (or the EDNS size) are truncated with TC; EDNS and TCP get them whole', async () => {
  const { handler, registry } = setup();
  const plain = decode(
    (await handler.handle(queryBytes('big.demo.svc.cluster.local', 'A', { id: 7 }), 'udp')) as Buffer,
  );
  assert.equal(plain.id, 7);
  assert.equal(plain.flag_tc, true);
  assert.deepEqual(plain.answers, []);
  assert.equal(plain.questions?.[0]?.name, 'big.demo.svc.cluster.local');
  const edns = await handler.handle(queryBytes('big.demo.svc.cluster.local', 'A', { edns: 4096 }), 'udp');
  assert.equal(decode(edns as Buffer).flag_tc, false);
  assert.equal(decode(edns as Buffer).answers?.length, 60);
  assert.equal(decode(edns as Buffer).additionals?.[0]?.type, 'OPT', 'EDNS answered with EDNS');
  const small = await handler.handle(queryBytes('big.demo.svc.cluster.local', 'A', { edns: 600 }), 'udp');
  assert.equal(decode(small as Buffer).flag_tc, true);
  assert.ok((small as Buffer).length <= 600);
  const tcp = decode((await handler.handle(queryBytes('big.demo.svc.cluster.local', 'A'), 'tcp')) as Buffer);
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers?.length, 60);
  assert.match(registry.render(), /fedmesh_mesh_dns_truncated_total 2/);
});

test('cluster answers are authoritative; forwarded ones cached and not; the question is echoed as asked', async () => {
  const { handler, registry, calls } = setup();
  const local = decode((await handler.handle(queryBytes('Web.Demo.svc.cluster.local', 'A'), 'udp')) as Buffer);
  assert.equal(local.flag_aa, true);
  assert.equal(local.flag_rd, true);
  assert.equal(local.flag_ra, true);
  assert.equal(local.questions?.[0]?.name, 'Web.Demo.svc.cluster.local');
  for (let i = 0; i < 3; i++) {
    const f = decode((await handler.handle(queryBytes('Example.COM', 'A'), 'udp')) as Buffer);
    assert.equal(f.flag_aa, false);
    assert.deepEqual(
      f.answers?.map((a) => ('data' in a ? a.data : '')),
      ['192.0.2.7'],
    );
  }
  assert.equal(calls(), 1, 'one upstream query, then the cache');
  const text = registry.render();
  assert.match(text, /fedmesh_mesh_dns_cache_total\{result="hit"\} 2/);
  assert.match(text, /fedmesh_mesh_dns_queries_total\{rcode="NOERROR",transport="udp",type="A"\} 4/);
});

test('identical queries in flight share one upstream query; a failed forward is SERVFAIL and not cached', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let fail = true;
  const { handler, calls } = setup(async (q) => {
    await gate;
    if (fail) throw new UpstreamError('no upstream answered');
    return {
      rcode: 0,
      answers: [{ name: q.name, type: 'A', ttl: 30, data: '192.0.2.8' }],
      authorities: [],
      additionals: [],
      upstream: 's',
    };
  });
  const pending = Array.from({ length: 5 }, () => handler.handle(queryBytes('slow.example', 'A'), 'udp'));
  release();
  const answers = (await Promise.all(pending)).map((b) => rcodeOf(decode(b as Buffer)));
  assert.deepEqual(answers, [2, 2, 2, 2, 2]);
  assert.equal(calls(), 1);
  fail = false;
  assert.equal(rcodeOf(decode((await handler.handle(queryBytes('slow.example', 'A'), 'udp')) as Buffer)), 0);
  assert.equal(calls(), 2, 'SERVFAIL was not cached');
});

test('ExternalName: the CNAME and the target addresses in one answer', async () => {
  const { handler } = setup();
  const p = decode((await handler.handle(queryBytes('ext.demo.svc.cluster.local', 'A'), 'udp')) as Buffer);
  assert.deepEqual(
    p.answers?.map((a) => a.type),
    ['CNAME', 'A'],
  );
});

test('bad queries: short dropped, undecodable FORMERR, responses dropped, other opcodes NOTIMP, two questions FORMERR, class CH NOTIMP', async () => {
  const { handler, registry } = setup();
  assert.equal(await handler.handle(Buffer.from([1, 2, 3]), 'udp'), undefined);
  const garbage = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([0x3f, 0x61]),
  ]);
  const formerr = decode((await handler.handle(garbage, 'udp')) as Buffer);
  assert.equal(formerr.id, 0x1234);
  assert.equal(rcodeOf(formerr), 1);
  const response = encode({ type: 'response', id: 1, questions: [{ name: 'a.example', type: 'A' }] });
  assert.equal(await handler.handle(response, 'udp'), undefined);
  const notify = encode({ type: 'query', id: 2, flags: 4 << 11, questions: [{ name: 'a.example', type: 'SOA' }] });
  assert.equal(rcodeOf(decode((await handler.handle(notify, 'udp')) as Buffer)), 4);
  const two = encode({
    type: 'query',
    id: 3,
    questions: [
      { name: 'a.example', type: 'A' },
      { name: 'b.example', type: 'A' },
    ],
  });
  assert.equal(rcodeOf(decode((await handler.handle(two, 'udp')) as Buffer)), 1);
  const chaos = encode({ type: 'query', id: 4, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
  assert.equal(rcodeOf(decode((await handler.handle(chaos, 'udp')) as Buffer)), 4);
  assert.match(registry.render(), /fedmesh_mesh_dns_malformed_total\{transport="udp",what="short"\} 1/);
});

test('fuzz: random bytes and mutated queries never throw; every answer is a decodable response to the same id', async () => {
  const { handler } = setup();
  const valid = [
    queryBytes('web.demo.svc.cluster.local', 'A', { id: 11, edns: 1232 }),
    queryBytes('_http._tcp.big.demo.svc.cluster.local', 'SRV', { id: 12 }),
    queryBytes('10.0.96.10.in-addr.arpa', 'PTR', { id: 13 }),
    queryBytes('example.com', 'AAAA', { id: 14 }),
  ];
  const check = async (bytes: Buffer, transport: 'udp' | 'tcp') => {
    const out = await handler.handle(bytes, transport);
    if (!out) return;
    const p = decode(out);
    assert.equal(p.type, 'response');
    assert.equal(p.id, bytes.readUInt16BE(0));
    if (transport === 'udp') assert.ok(out.length <= 4096);
  };
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 700 }), fc.constantFrom('udp' as const, 'tcp' as const), async (b, t) =>
      check(Buffer.from(b), t),
    ),
    { numRuns: 2000 },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      async (q, flips, cut) => {
        const b = Buffer.from(q);
        for (const [i, v] of flips) b[i % b.length] = v;
        await check(b.subarray(0, Math.max(12, b.length - (cut % 8))), 'udp');
      },
    ),
    { numRuns: 3000 },
  );
});

test('EDNS version 1 gets BADVERS (extended rcode 1 in our OPT)', async () => {
  const { handler } = setup();
  const q = decode(queryBytes('web.demo.svc.cluster.local', 'A', { id: 21, edns: 1232 }));
  const opt = (q.additionals ?? [])[0] as OptAnswer;
  const bytes = encode({ ...q, additionals: [{ ...opt, ednsVersion: 1 }] });
  const p = decode((await handler.handle(bytes, 'udp')) as Buffer);
  assert.equal(p.id, 21);
  assert.equal(rcodeOf(p), 0);
  assert.deepEqual(p.answers, []);
  const back = (p.additionals ?? [])[0] as OptAnswer | undefined;
  assert.equal(back?.extendedRcode, 1);
});

test('a question name that would not encode back (an empty label from a dot inside a label) is FORMERR', async () => {
  const { handler } = setup();
  // "web.demo.svc.cluster.l.cal": the 5-byte label "l.cal" decodes with a dot inside it.
  const bytes = Buffer.from(queryBytes('web.demo.svc.cluster.local', 'A', { id: 9 }));
  bytes[34] = 0x2e;
  const p = decode((await handler.handle(bytes, 'udp')) as Buffer);
  assert.equal(p.id, 9);
  assert.equal(rcodeOf(p), 1);
  const empty = Buffer.from(queryBytes('a.example', 'A', { id: 10 }));
  empty[13] = 0x2e; // "." as the only byte of the first label: an empty label once decoded
  assert.equal(rcodeOf(decode((await handler.handle(empty, 'udp')) as Buffer)), 1);
});

test('packet cache: the same query bytes answered again with their own ID; a catalog change is seen at once', async () => {
  const catalog = stubCatalog([entry('demo', 'web', { clusterIPs: ['10.96.0.10'] })]);
  const cache = createDnsCache({ size: 10, maxTtl: 3600, maxNegativeTtl: 300 });
  const handler = createQueryHandler({
    zone: createClusterZone({ domain: 'cluster.local', ttl: 5 }, catalog),
    forwarder: { forward: () => Promise.reject(new UpstreamError('none')) },
    cache,
    metrics: dnsMetrics(undefined, () => 0),
    log,
    forwardDeadlineMs: 100,
    maxForwards: 1,
  });
  const ask = async (id: number) =>
    decode((await handler.handle(queryBytes('Web.demo.svc.cluster.local', 'A', { id }), 'udp')) as Buffer);
  for (const id of [1, 2, 3]) {
    const p = await ask(id);
    assert.equal(p.id, id);
    assert.equal(p.questions?.[0]?.name, 'Web.demo.svc.cluster.local');
    assert.deepEqual(
      p.answers?.map((a) => ('data' in a ? a.data : '')),
      ['10.96.0.10'],
    );
  }
  catalog.set(entry('demo', 'web', { clusterIPs: ['10.96.0.99'] }));
  assert.deepEqual(
    (await ask(4)).answers?.map((a) => ('data' in a ? a.data : '')),
    ['10.96.0.99'],
  );
  catalog.remove('demo', 'web');
  assert.equal(rcodeOf(await ask(5)), 3);
});
