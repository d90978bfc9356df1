import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TRUNCATED_RESPONSE } from 'dns-packet';
import { stubUpstream } from './testing.ts';
import { createForwarder, parseUpstream, resolvConfNameservers } from './upstream.ts';

const q = { name: 'example.com', type: 'A' as const, class: 'IN' as const };
const answer = (ip: string) => (p: { questions?: Array<{ name: string }> }) => ({
  answers: [{ name: p.questions?.[0]?.name ?? '', type: 'A' as const, ttl: 60, data: ip }],
});

test('failover: a silent upstream times out, a SERVFAIL one is skipped, the next answers and is tried first after', async (t) => {
  const silent = await stubUpstream(() => undefined);
  const failing = await stubUpstream(() => ({ flags: 2 }));
  const good = await stubUpstream(answer('192.0.2.1'));
  t.after(() => Promise.all([silent.close(), failing.close(), good.close()]));
  const failures: string[] = [];
  const f = createForwarder(
    {
      upstreams: [silent, failing, good].map((s) => ({ host: '127.0.0.1', port: s.port })),
      timeoutMs: 200,
    },
    (_u, reason) => failures.push(reason),
  );
  const r = await f.forward(q, AbortSignal.timeout(5000));
  assert.deepEqual(
    r.answers.map((a) => ('data' in a ? a.data : '')),
    ['192.0.2.1'],
  );
  assert.deepEqual(failures, ['timeout', 'servfail']);
  await f.forward(q, AbortSignal.timeout(5000));
  assert.equal(silent.queries.length, 1, 'the upstream that answered is asked first');
  assert.equal(good.queries.length, 2);
});

test('a truncated UDP answer is asked again over TCP from the same upstream', async (t) => {
  const up = await stubUpstream((p, tcp) => (tcp ? answer('192.0.2.2')(p) : { flags: TRUNCATED_RESPONSE }));
  t.after(() => up.close());
  const f = createForwarder({ upstreams: [{ host: '127.0.0.1', port: up.port }], timeoutMs: 1000 });
  const r = await f.forward(q, AbortSignal.timeout(5000));
  assert.deepEqual(
    r.answers.map((a) => ('data' in a ? a.data : '')),
    ['192.0.2.2'],
  );
  assert.deepEqual(
    up.queries.map((x) => x.tcp),
    [false, true],
  );
});

test('NXDOMAIN is an answer, not a failure; when no upstream answers the forward fails with ERR_DNS_UPSTREAM', async (t) => {
  const nx = await stubUpstream(() => ({ flags: 3 }));
  const silent = await stubUpstream(() => undefined);
  t.after(() => Promise.all([nx.close(), silent.close()]));
  const f = createForwarder({ upstreams: [{ host: '127.0.0.1', port: nx.port }], timeoutMs: 500 });
  assert.equal((await f.forward(q, AbortSignal.timeout(5000))).rcode, 3);
  const dead = createForwarder({ upstreams: [{ host: '127.0.0.1', port: silent.port }], timeoutMs: 100 });
  await assert.rejects(dead.forward(q, AbortSignal.timeout(5000)), { code: 'ERR_DNS_UPSTREAM' });
  await assert.rejects(createForwarder({ upstreams: [], timeoutMs: 100 }).forward(q, AbortSignal.timeout(100)), {
    code: 'ERR_DNS_UPSTREAM',
  });
});

test('upstream addresses from text and from resolv.conf', () => {
  assert.deepEqual(parseUpstream('10.0.0.2'), { host: '10.0.0.2', port: 53 });
  assert.deepEqual(parseUpstream('10.0.0.2:5353'), { host: '10.0.0.2', port: 5353 });
  assert.deepEqual(parseUpstream('fd00::2'), { host: 'fd00::2', port: 53 });
  assert.deepEqual(parseUpstream('[fd00::2]:5353'), { host: 'fd00::2', port: 5353 });
  for (const bad of ['', 'a b', '10.0.0.2:0', '10.0.0.2:70000', 'dns.example', 'dns.example:53', '[10.0.0.2]:53'])
    assert.throws(() => parseUpstream(bad), bad);
  const dir = mkdtempSync(join(tmpdir(), 'resolv-'));
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, '# comment\nsearch example\nnameserver 10.0.0.2\n  nameserver fd00::53\noptions ndots:5\n');
  assert.deepEqual(resolvConfNameservers(file), [
    { host: '10.0.0.2', port: 53 },
    { host: 'fd00::53', port: 53 },
  ]);
  assert.deepEqual(resolvConfNameservers(join(dir, 'missing')), []);
});
