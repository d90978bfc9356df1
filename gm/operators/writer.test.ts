import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeApiError, type KubeRest } from '../../common/kube/rest.ts';
import type { FencingGuard } from '../election/index.ts';
import { RESOURCES } from './resources.ts';
import { createWriter } from './writer.ts';

const guard: FencingGuard = {
  check() {},
  valid: () => true,
  remainingMs: () => 1000,
  write: (fn) => fn(new AbortController().signal),
};

function writerAnswering(status: number, reason: string) {
  const rest = {
    server: 'https://api',
    async request() {
      throw new KubeApiError(status, reason, `${status} ${reason}: pods "p" is refused`);
    },
  } as unknown as KubeRest;
  return createWriter({ rest, guard, writerId: () => 'a/1', instance: 'a' });
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: {} };

const cases: Array<{ name: string; status: number; reason: string; thrown: string }> = [
  { name: 'invalid object: terminal', status: 422, reason: 'Invalid', thrown: 'TerminalError' },
  { name: 'bad request: terminal', status: 400, reason: 'BadRequest', thrown: 'TerminalError' },
  { name: 'missing ServiceAccount: refused, retried', status: 403, reason: 'Forbidden', thrown: 'WriteRefusedError' },
  { name: 'namespace gone: refused, retried', status: 404, reason: 'NotFound', thrown: 'WriteRefusedError' },
  { name: 'conflict: plain retry', status: 409, reason: 'Conflict', thrown: 'KubeApiError' },
  { name: 'throttled: plain retry', status: 429, reason: 'TooManyRequests', thrown: 'KubeApiError' },
  { name: 'server error: plain retry', status: 500, reason: 'InternalError', thrown: 'KubeApiError' },
];
for (const c of cases) {
  test(`apply answered ${c.status}: ${c.name}`, async () => {
    await assert.rejects(
      writerAnswering(c.status, c.reason).apply(RESOURCES.Pod, pod, undefined, AbortSignal.timeout(1000)),
      (err: Error & { status?: number; reason?: string; kind?: string }) => {
        assert.equal(err.name, c.thrown);
        if (c.thrown === 'WriteRefusedError') {
          assert.equal(err.status, c.status);
          assert.equal(err.reason, c.reason);
          assert.equal(err.kind, 'Pod');
          assert.match(err.message, /^Pod p: /);
        }
        return true;
      },
    );
  });
}

test('an Event that cannot be posted is reported, not thrown', async () => {
  const posted = await writerAnswering(403, 'Forbidden').event(
    RESOURCES.FederatedLearningJob,
    { metadata: { name: 'j', namespace: 'ns', uid: 'u' } },
    { type: 'Warning', reason: 'PodCreationFailed', message: 'm' },
    AbortSignal.timeout(1000),
  );
  assert.equal(posted, false);
});
