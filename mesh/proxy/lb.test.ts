import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash32 } from './hash.ts';
import { type Candidate, createBalancer, localityOrder, preferredPool } from './lb.ts';

const c = (id: string, extra: Partial<Candidate> = {}): Candidate => ({ id, locality: 'lan', ...extra });
/** A deterministic [0,1) source (xorshift32). */
const seeded = (seed: number) => () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

test('round robin alternates exactly, in id order, whatever order the candidates come in', () => {
  const b = createBalancer({});
  const picks = Array.from(
    { length: 6 },
    (_, i) => b.pick(i % 2 ? [c('b'), c('a')] : [c('a'), c('b')], '10.0.0.1')[0]?.id,
  );
  assert.deepEqual(picks, ['a', 'b', 'a', 'b', 'a', 'b']);
  const three = createBalancer({ policy: { simple: 'ROUND_ROBIN' } });
  const ids = Array.from({ length: 6 }, () => three.pick([c('x'), c('y'), c('z')], '1.1.1.1')[0]?.id);
  assert.deepEqual(ids, ['x', 'y', 'z', 'x', 'y', 'z']);
});

test('random spreads within a chi-square bound', () => {
  const b = createBalancer({ policy: { simple: 'RANDOM' } }, { random: seeded(12345) });
  const cands = [c('a'), c('b'), c('c'), c('d')];
  const n = 8000;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = b.pick(cands, '10.0.0.1')[0]?.id as string;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const expected = n / cands.length;
  const chi2 = [...counts.values()].reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
  assert.equal(counts.size, 4);
  // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
  assert.ok(chi2 < 16.27, `chi2 ${chi2.toFixed(2)} ${JSON.stringify([...counts])}`);
});

test('source-IP consistent hash sticks per IP (the port plays no part) and moves only the clients of a removed endpoint', () => {
  const b = createBalancer({ policy: { consistentHash: { useSourceIp: true } } });
  const cands = ['a', 'b', 'c', 'd'].map((id) => c(id));
  const ips = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  const first = new Map(ips.map((ip) => [ip, b.pick(cands, ip)[0]?.id]));
  for (const ip of ips) for (let k = 0; k < 3; k++) assert.equal(b.pick(cands, ip)[0]?.id, first.get(ip));
  assert.ok(new Set(first.values()).size === 4, 'all endpoints get clients');
  const without = cands.filter((x) => x.id !== 'b');
  for (const ip of ips) {
    const now = b.pick(without, ip)[0]?.id;
    if (first.get(ip) !== 'b') assert.equal(now, first.get(ip), `${ip} kept its endpoint`);
  }
});

test('ClientIP affinity sticks until its timeout (restarted by each use), then balances again', () => {
  let now = 0;
  const b = createBalancer({ affinityTimeoutS: 10 }, { now: () => now });
  const cands = [c('a'), c('b')];
  const pickUse = (ip: string) => {
    const id = b.pick(cands, ip)[0]?.id as string;
    b.used(ip, id);
    return id;
  };
  const first = pickUse('10.0.0.1');
  for (let i = 0; i < 5; i++) {
    now += 9_000;
    assert.equal(pickUse('10.0.0.1'), first, 'within the timeout of the last use');
  }
  now += 10_001;
  // Expired: round robin resumes where it was, the other endpoint comes next.
  assert.notEqual(pickUse('10.0.0.1'), first);
  // An endpoint that left is not kept by affinity.
  const held = pickUse('10.0.0.2');
  const other = cands.find((x) => x.id !== held) as Candidate;
  assert.equal(b.pick([other], '10.0.0.2')[0]?.id, other.id);
});

test('least request prefers the endpoint with fewer open connections', () => {
  const b = createBalancer({ policy: { simple: 'LEAST_REQUEST' } }, { random: seeded(7) });
  b.opened('a');
  b.opened('a');
  for (let i = 0; i < 20; i++) assert.equal(b.pick([c('a'), c('b')], 'x')[0]?.id, 'b');
  b.closed('a');
  b.closed('a');
  b.opened('b');
  assert.equal(b.pick([c('a'), c('b')], 'x')[0]?.id, 'a');
});

test('locality: same LAN first, else the nearest remote endpoints by RTT band; penalized ones last', () => {
  const cases = [
    {
      name: 'lan beats remote',
      cands: [c('r', { locality: 'remote', rttMs: 1 }), c('l', { locality: 'lan' })],
      pool: ['l'],
    },
    {
      name: 'local and lan share',
      cands: [c('x', { locality: 'local' }), c('l', { locality: 'lan' })],
      pool: ['l', 'x'],
    },
    {
      name: 'remote by rtt band',
      cands: [
        c('near', { locality: 'remote', rttMs: 10 }),
        c('near2', { locality: 'remote', rttMs: 20 }),
        c('far', { locality: 'remote', rttMs: 80 }),
      ],
      pool: ['near', 'near2'],
    },
    {
      name: 'unknown rtt only when nothing measured',
      cands: [c('u', { locality: 'remote' }), c('v', { locality: 'remote' })],
      pool: ['u', 'v'],
    },
    {
      name: 'penalized skipped while others exist',
      cands: [c('p', { penalized: true }), c('q', { locality: 'remote', rttMs: 50 })],
      pool: ['q'],
    },
  ];
  for (const k of cases)
    assert.deepEqual(
      preferredPool(k.cands).map((x) => x.id),
      k.pool,
      k.name,
    );
  assert.deepEqual(
    localityOrder([c('p', { penalized: true }), c('r', { locality: 'remote', rttMs: 5 }), c('l')]).map((x) => x.id),
    ['l', 'r', 'p'],
  );
  // The pick's fallbacks: every candidate after the choice, in locality order.
  const b = createBalancer({});
  assert.deepEqual(
    b.pick([c('r', { locality: 'remote', rttMs: 5 }), c('l')], 'x').map((x) => x.id),
    ['l', 'r'],
  );
});

test('hash32 is stable', () => {
  assert.equal(hash32('10.0.0.1|a'), hash32('10.0.0.1|a'));
  assert.notEqual(hash32('10.0.0.1|a'), hash32('10.0.0.2|a'));
});
