import assert from 'node:assert/strict';
import { test } from 'node:test';
import { microTime } from '../../common/kube/time.ts';
import type { Clock } from './clock.ts';
import { createFencingGuard } from './guard.ts';
import { leaseSpecFromRecord, rawRecord, recordFromLease } from './record.ts';
import { validateTiming } from './timing.ts';

const timing: Array<{ name: string; t: [number, number, number]; ok: boolean }> = [
  { name: 'client-go defaults', t: [15_000, 10_000, 2_000], ok: true },
  { name: 'fast profile', t: [2_000, 1_500, 500], ok: true },
  { name: 'renew deadline equals lease duration', t: [2_000, 2_000, 500], ok: false },
  { name: 'renew deadline above lease duration', t: [2_000, 3_000, 500], ok: false },
  { name: 'retry period × 1.2 reaches renew deadline', t: [15_000, 2_400, 2_000], ok: false },
  { name: 'sub-second lease duration', t: [1_500, 1_000, 200], ok: false },
  { name: 'zero retry period', t: [2_000, 1_500, 0], ok: false },
];
for (const c of timing) {
  test(`validateTiming: ${c.name}`, () => {
    if (c.ok) validateTiming(...c.t);
    else assert.throws(() => validateTiming(...c.t), { code: 'ERR_CONFIG' });
  });
}

test('microTime has six fractional digits, as the API server stores MicroTime', () => {
  assert.equal(microTime(new Date('2026-11-25T03:47:31.123Z')), '2026-11-25T03:47:31.123000Z');
});

test('a Lease maps to client-go’s LeaderElectionRecord and back', () => {
  const spec = {
    holderIdentity: 'gm-1',
    leaseDurationSeconds: 15,
    acquireTime: '2026-11-25T03:47:31.123000Z',
    renewTime: '2026-11-25T03:47:33.000000Z',
    leaseTransitions: 4,
  };
  const rec = recordFromLease({ metadata: { name: 'l' }, spec });
  assert.equal(rec.leaderTransitions, 4);
  assert.deepEqual(leaseSpecFromRecord(rec), spec);
  // A released lease (client-go writes an empty holder) and a missing spec read as "no holder".
  assert.equal(recordFromLease({ metadata: { name: 'l' } }).holderIdentity, '');
  assert.notEqual(rawRecord(rec), rawRecord({ ...rec, renewTime: '2026-11-25T03:47:35.000000Z' }));
});

function fakeClock(start = 1000): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, wall: () => new Date(t), advance: (ms) => (t += ms) };
}

test('the guard refuses once the trusted window has passed, judged at the moment of the write', async () => {
  const clock = fakeClock();
  const term = new AbortController();
  let trustedUntil = clock.now() + 1500;
  const guard = createFencingGuard({ termSignal: () => term.signal, trustedUntil: () => trustedUntil }, clock);
  assert.equal(guard.valid(), true);
  assert.equal(await guard.write(async (s) => (s.aborted ? 'aborted' : 'written')), 'written');
  // A pause (SIGSTOP) moves the clock without any timer running: the next check still refuses.
  clock.advance(1600);
  assert.equal(guard.valid(), false);
  assert.throws(() => guard.check(), { name: 'NotLeaderError', code: 'ERR_NOT_LEADER' });
  await assert.rejects(
    guard.write(async () => 'written'),
    { code: 'ERR_NOT_LEADER' },
  );
  // A renew moves the window; an ended term refuses whatever the clock says.
  trustedUntil = clock.now() + 1500;
  assert.equal(guard.valid(), true);
  term.abort();
  assert.equal(guard.valid(), false);
});

test('no term, no writes', () => {
  const guard = createFencingGuard(
    { termSignal: () => undefined, trustedUntil: () => Number.POSITIVE_INFINITY },
    fakeClock(),
  );
  assert.equal(guard.remainingMs(), 0);
  assert.throws(() => guard.check(), { code: 'ERR_NOT_LEADER' });
});

const realClock: Clock = { now: () => performance.now(), wall: () => new Date() };
const delay = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
    });
  });

test('a write in flight outlives the window it started in when a renew extends it', async () => {
  const term = new AbortController();
  let trustedUntil = realClock.now() + 60;
  const guard = createFencingGuard({ termSignal: () => term.signal, trustedUntil: () => trustedUntil }, realClock);
  const renew = setTimeout(() => (trustedUntil = realClock.now() + 300), 30);
  // The request takes longer than the window it was sent in: the API's answer comes back.
  assert.equal(
    await guard.write(async (s) => {
      await delay(150, s);
      return 'answered';
    }),
    'answered',
  );
  clearTimeout(renew);
});

test('a write in flight when the window closes is cancelled and rejects with NotLeaderError', async () => {
  const term = new AbortController();
  const trustedUntil = realClock.now() + 60;
  const guard = createFencingGuard({ termSignal: () => term.signal, trustedUntil: () => trustedUntil }, realClock);
  await assert.rejects(
    guard.write((s) => delay(5_000, s)),
    { name: 'NotLeaderError', code: 'ERR_NOT_LEADER' },
  );
  // A refusal by the API server is not dressed up as a lost lease.
  const refused = Object.assign(new Error('403 Forbidden'), { name: 'KubeApiError' });
  await assert.rejects(
    createFencingGuard({ termSignal: () => term.signal, trustedUntil: () => realClock.now() + 1000 }, realClock).write(
      async () => {
        throw refused;
      },
    ),
    (err) => err === refused,
  );
});
