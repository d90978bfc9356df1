import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeTime, microTime } from './time.ts';

test('Kubernetes time formats', () => {
  const d = new Date('2026-12-07T15:04:05.123Z');
  assert.equal(kubeTime(d), '2026-12-07T15:04:05Z');
  assert.equal(microTime(d), '2026-12-07T15:04:05.123000Z');
});
