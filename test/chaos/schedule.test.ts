import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FaultTarget, generateSchedule, prng } from './schedule.ts';

const targets: FaultTarget[] = [
  { name: 'gm-a', role: 'gm', faults: ['kill9', 'pause', 'term'] },
  { name: 'edge-1', role: 'lc', faults: ['kill9', 'restart'] },
  { name: 'link', role: 'link', faults: ['netem'] },
];

test('schedule: the same seed gives the same schedule; another seed another one', () => {
  const a = generateSchedule({ seed: 7, durationMs: 60_000, targets });
  const b = generateSchedule({ seed: 7, durationMs: 60_000, targets });
  const c = generateSchedule({ seed: 8, durationMs: 60_000, targets });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.length > 10);
});

test('schedule: faults are sequential, within the run, each from its target’s list', () => {
  const s = generateSchedule({ seed: 42, durationMs: 30_000, targets });
  let end = 0;
  for (const f of s) {
    assert.ok(f.at >= end && f.at < 30_000);
    const t = targets.find((x) => x.name === f.target);
    assert.ok(t?.faults.includes(f.kind));
    if (f.kind === 'restart') assert.equal(f.holdMs, 0);
    if (f.kind === 'netem') assert.ok(f.delayMs !== undefined && f.lossPct !== undefined);
    end = f.at + f.holdMs;
  }
});

test('schedule: bad input is refused', () => {
  assert.throws(() => generateSchedule({ seed: 1.5, durationMs: 1000, targets }), RangeError);
  assert.throws(() => generateSchedule({ seed: 1, durationMs: 1000, targets: [] }), RangeError);
});

test('prng: uniform-ish in [0, 1)', () => {
  const r = prng(1);
  const xs = Array.from({ length: 10_000 }, r);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
});
