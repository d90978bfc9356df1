import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from './duration.ts';

const good: Array<{ name: string; in: string; ms: number }> = [
  { name: 'seconds', in: '2s', ms: 2000 },
  { name: 'milliseconds', in: '1500ms', ms: 1500 },
  { name: 'fractional seconds', in: '0.5s', ms: 500 },
  { name: 'compound', in: '1m30s', ms: 90_000 },
  { name: 'hours', in: '1h', ms: 3_600_000 },
];
for (const c of good) test(`parseDuration: ${c.name}`, () => assert.equal(parseDuration(c.in), c.ms));

const bad = ['', '2', 's', '2x', '-1s', '1s 2s', '1.s'];
for (const b of bad) {
  test(`parseDuration rejects ${JSON.stringify(b)}`, () =>
    assert.throws(() => parseDuration(b), { code: 'ERR_CONFIG' }));
}

test('formatDuration round-trips', () => {
  for (const ms of [500, 1500, 2000, 15_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
