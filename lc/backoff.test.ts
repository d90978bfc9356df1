import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackoff } from './backoff.ts';

const cases = [
  {
    name: 'no jitter at random()=1-: full steps, doubling to the cap',
    random: 0.999999,
    want: [100, 200, 400, 800, 1000, 1000],
  },
  { name: 'half steps at random()=0', random: 0, want: [50, 100, 200, 400, 500, 500] },
  { name: 'three quarters at random()=0.5', random: 0.5, want: [75, 150, 300, 600, 750, 750] },
];
for (const c of cases) {
  test(`backoff: ${c.name}`, () => {
    const b = createBackoff({ minMs: 100, maxMs: 1000, random: () => c.random });
    assert.deepEqual(
      c.want.map(() => b.next()),
      c.want,
    );
    assert.equal(b.attempts, c.want.length);
  });
}

test('backoff: reset starts over', () => {
  const b = createBackoff({ minMs: 10, maxMs: 1000, random: () => 0.999999 });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 10);
});

test('backoff: jittered delays stay in [step/2, step) and are spread out', () => {
  const b = createBackoff({ minMs: 1000, maxMs: 1000 });
  const delays = Array.from({ length: 200 }, () => b.next());
  assert.ok(delays.every((d) => d >= 500 && d <= 1000));
  assert.ok(new Set(delays).size > 50, 'delays differ between calls');
});

test('backoff: invalid bounds are a ConfigError', () => {
  for (const init of [
    { minMs: 0, maxMs: 10 },
    { minMs: 10, maxMs: 5 },
  ]) {
    assert.throws(() => createBackoff(init), { name: 'ConfigError', code: 'ERR_CONFIG' });
  }
});

test('backoff: huge attempt counts do not overflow', () => {
  const b = createBackoff({ minMs: 1, maxMs: 5000, random: () => 0.999999 });
  for (let i = 0; i < 2000; i++) b.next();
  assert.equal(b.next(), 5000);
});
