import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer } from 'dns-packet';
import { type CachedAnswer, cacheTtl, createDnsCache } from './cache.ts';
import { createRateLimiter } from './ratelimit.ts';

const a = (ttl: number, ip = '192.0.2.1'): Answer => ({ name: 'x.example', type: 'A', ttl, data: ip });
const soa = (ttl: number, minimum: number): Answer => ({
  name: 'example',
  type: 'SOA',
  ttl,
  data: { mname: 'ns.example', rname: 'h.example', minimum },
});
const pos = (...answers: Answer[]): CachedAnswer => ({ rcode: 0, answers, authorities: [], additionals: [] });
const neg = (rcode: number, ...authorities: Answer[]): CachedAnswer => ({
  rcode,
  answers: [],
  authorities,
  additionals: [],
});

test('cacheTtl: the smallest record TTL capped; negatives from the SOA (RFC 2308); nothing else cached', () => {
  const cases: Array<{ name: string; v: CachedAnswer; want: number }> = [
    { name: 'positive: smallest TTL', v: pos(a(60), a(30)), want: 30 },
    { name: 'positive: capped', v: pos(a(86_400)), want: 3600 },
    { name: 'positive: TTL 0 not cached', v: pos(a(0)), want: 0 },
    { name: 'NXDOMAIN: SOA minimum', v: neg(3, soa(900, 60)), want: 60 },
    { name: 'NXDOMAIN: SOA TTL when smaller', v: neg(3, soa(10, 60)), want: 10 },
    { name: 'NODATA: capped', v: neg(0, soa(86_400, 86_400)), want: 300 },
    { name: 'negative without SOA: not cached', v: neg(3), want: 0 },
    { name: 'SERVFAIL: never', v: neg(2, soa(60, 60)), want: 0 },
  ];
  for (const c of cases) assert.equal(cacheTtl(c.v, 3600, 300), c.want, c.name);
});

test('cache: served with the remaining TTL, gone at expiry, least recently used evicted first', () => {
  let now = 0;
  const cache = createDnsCache({ size: 2, maxTtl: 3600, maxNegativeTtl: 300, now: () => now });
  cache.put('a', pos(a(10)));
  now = 4_500;
  assert.equal((cache.get('a')?.answers[0] as { ttl: number } | undefined)?.ttl, 6);
  now = 10_000;
  assert.equal(cache.get('a'), undefined, 'expired');
  now = 0;
  cache.put('a', pos(a(100)));
  cache.put('b', pos(a(100)));
  cache.get('a');
  cache.put('c', pos(a(100)));
  assert.equal(cache.size, 2);
  assert.ok(cache.get('a'), 'recently used, kept');
  assert.equal(cache.get('b'), undefined, 'least recently used, evicted');
  cache.put('n', neg(3, soa(60, 5)));
  now = 4_999;
  assert.equal(cache.get('n')?.rcode, 3);
  now = 5_000;
  assert.equal(cache.get('n'), undefined);
});

test('rate limiter: a burst, then the sustained rate; sources are independent and the table is bounded', () => {
  let now = 0;
  const rl = createRateLimiter({ qps: 10, burst: 5, maxSources: 3, now: () => now });
  let allowed = 0;
  for (let i = 0; i < 20; i++) if (rl.allow('a')) allowed++;
  assert.equal(allowed, 5);
  assert.equal(rl.allow('b'), true, 'another source is not limited');
  now = 1000;
  allowed = 0;
  for (let i = 0; i < 20; i++) if (rl.allow('a')) allowed++;
  assert.equal(allowed, 5, 'refilled at 10/s up to the burst');
  for (const s of ['c', 'd', 'e']) rl.allow(s);
  assert.equal(rl.sources, 3);
});
