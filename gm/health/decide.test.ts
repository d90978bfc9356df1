import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TallyResult } from '../../mesh/health/index.ts';
import { type Decision, decide, encodeDecision, parseDecision, protects } from './decide.ts';

const tally = (outcome: TallyResult['outcome']): TallyResult => ({
  node: 'n1',
  outcome,
  supporters: [],
  accusers: [],
  voters: 3,
  self: true,
});
const HOLD = 60_000;

const cases: { name: string; input: Parameters<typeof decide>[0]; want: Partial<Decision> }[] = [
  {
    name: 'a heard zone: the tally decides',
    input: {
      tally: tally('unhealthy'),
      zoneHeard: true,
      zoneShared: true,
      previous: undefined,
      now: 1000,
      holdMs: HOLD,
    },
    want: { outcome: 'unhealthy', held: false, at: 1000 },
  },
  {
    name: 'a node alone is never judged by peers',
    input: {
      tally: tally('healthy'),
      zoneHeard: true,
      zoneShared: false,
      previous: undefined,
      now: 1000,
      holdMs: HOLD,
    },
    want: { outcome: 'unknown', held: false },
  },
  {
    name: 'a silent zone keeps the last outcome, from when silence began',
    input: {
      tally: tally('unknown'),
      zoneHeard: false,
      zoneShared: true,
      previous: { outcome: 'healthy', held: false, at: 500 },
      now: 1000,
      holdMs: HOLD,
    },
    want: { outcome: 'healthy', held: true, silentSince: 1000 },
  },
  {
    name: 'a held outcome keeps its start across rounds (and leaders)',
    input: {
      tally: tally('unknown'),
      zoneHeard: false,
      zoneShared: true,
      previous: { outcome: 'healthy', held: true, at: 5000, silentSince: 1000 },
      now: 6000,
      holdMs: HOLD,
    },
    want: { outcome: 'healthy', held: true, silentSince: 1000, at: 6000 },
  },
  {
    name: 'past the hold: unknown, Kubernetes decides',
    input: {
      tally: tally('unknown'),
      zoneHeard: false,
      zoneShared: true,
      previous: { outcome: 'healthy', held: true, at: 5000, silentSince: 1000 },
      now: 1000 + HOLD + 1,
      holdMs: HOLD,
    },
    want: { outcome: 'unknown', held: false },
  },
  {
    name: 'a silent zone never heard before: the tally (unknown)',
    input: { tally: tally('unknown'), zoneHeard: false, zoneShared: true, previous: undefined, now: 1, holdMs: HOLD },
    want: { outcome: 'unknown', held: false },
  },
];

for (const c of cases) {
  test(`decide: ${c.name}`, () => {
    const d = decide(c.input);
    for (const [k, v] of Object.entries(c.want)) assert.equal(d[k as keyof Decision], v, k);
  });
}

test('the annotation round-trips, refuses what is not a decision', () => {
  const d: Decision = { outcome: 'healthy', held: true, at: 5, silentSince: 1 };
  assert.deepEqual(parseDecision(encodeDecision(d)), d);
  assert.equal(encodeDecision({ outcome: 'unknown', held: false, at: 2 }), '{"at":2,"held":false,"outcome":"unknown"}');
  for (const bad of [undefined, '', 'nope', '{"outcome":"great","held":false,"at":1}', '{"outcome":"healthy"}']) {
    assert.equal(parseDecision(bad), undefined, String(bad));
  }
});

test('protects only a fresh healthy decision', () => {
  assert.equal(protects({ outcome: 'healthy', held: false, at: 1000 }, 1500, 1000), true);
  assert.equal(protects({ outcome: 'healthy', held: false, at: 1000 }, 2001, 1000), false, 'stale');
  assert.equal(protects({ outcome: 'unknown', held: false, at: 1000 }, 1000, 1000), false);
  assert.equal(protects(undefined, 0, 1000), false);
});
