import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, retriable, retryPolicy } from './retry.ts';

test("Istio's default: 2 retries on connect failure and 503", () => {
  const p = retryPolicy(undefined);
  assert.equal(p.attempts, 2);
  assert.equal(retriable(p, { failure: 'connect-failure' }), true);
  assert.equal(retriable(p, { status: 503 }), true);
  assert.equal(retriable(p, { status: 500 }), false);
  assert.equal(retriable(p, { failure: 'reset' }), false);
});

test('retryOn conditions as Envoy reads them', () => {
  for (const { name, on, outcome, want } of [
    { name: '5xx takes a 500', on: '5xx', outcome: { status: 500 }, want: true },
    { name: '5xx takes a reset', on: '5xx', outcome: { failure: 'reset' as const }, want: true },
    { name: '5xx takes a per-try timeout', on: '5xx', outcome: { failure: 'per-try-timeout' as const }, want: true },
    { name: 'gateway-error: 502', on: 'gateway-error', outcome: { status: 502 }, want: true },
    { name: 'gateway-error: not 500', on: 'gateway-error', outcome: { status: 500 }, want: false },
    { name: 'connect-failure only', on: 'connect-failure', outcome: { failure: 'reset' as const }, want: false },
    { name: 'retriable-4xx: 409', on: 'retriable-4xx', outcome: { status: 409 }, want: true },
    { name: 'a code in retryOn', on: 'connect-failure,429', outcome: { status: 429 }, want: true },
    { name: 'no 2xx retry', on: '5xx', outcome: { status: 200 }, want: false },
  ]) {
    assert.equal(retriable(retryPolicy({ attempts: 3, retryOn: on }), outcome), want, name);
  }
});

test('attempts 0 disables; per-try timeout; bad input refused', () => {
  assert.equal(retryPolicy({ attempts: 0 }).attempts, 0);
  assert.equal(retryPolicy({ attempts: 1, perTryTimeout: '250ms' }).perTryTimeoutMs, 250);
  assert.throws(() => retryPolicy({ retryOn: '5xx,sometimes' }), { code: 'ERR_INVALID_RETRY' });
  assert.throws(() => retryPolicy({ perTryTimeout: 'soon' }), { code: 'ERR_INVALID_RETRY' });
});

test('back-off: jittered within 25 ms × (2^n − 1), at most 250 ms', () => {
  assert.equal(
    backoffMs(1, () => 0.999),
    24,
  );
  assert.equal(
    backoffMs(2, () => 0.5),
    37,
  );
  assert.equal(
    backoffMs(10, () => 0.999),
    249,
  );
  assert.equal(
    backoffMs(3, () => 0),
    0,
  );
});
