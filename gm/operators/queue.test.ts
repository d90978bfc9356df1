import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createWorkQueue, type QueueClock } from './queue.ts';

/** A clock that moves only when the test says so. */
function fakeClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: QueueClock & { advance(ms: number): void; pending(): number } = {
    now: () => now,
    setTimer(fn, ms) {
      const id = seq++;
      timers.set(id, { at: now + ms, fn });
      return () => timers.delete(id);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
  return clock;
}

describe('work queue', () => {
  test('de-duplicates keys that are queued', async () => {
    const q = createWorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  test('never hands one key to two workers; an add while processing requeues it on done', async () => {
    const q = createWorkQueue();
    q.add('a');
    const first = await q.get();
    assert.equal(first, 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'held by a worker: not queued again yet');
    let second: string | undefined;
    const waiting = q.get().then((k) => {
      second = k;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined, 'a second worker does not get the key in process');
    q.done('a');
    await waiting;
    assert.equal(second, 'a', 'queued once more after done');
    q.done('a');
    assert.equal(q.len(), 0);
    assert.equal(q.processing(), 0);
  });

  test('a waiting get is woken by add, by abort and by shutDown', async () => {
    const q = createWorkQueue();
    const p = q.get();
    q.add('x');
    assert.equal(await p, 'x');
    const ac = new AbortController();
    const aborted = q.get(ac.signal);
    ac.abort();
    assert.equal(await aborted, undefined);
    const shut = q.get();
    q.shutDown();
    assert.equal(await shut, undefined);
    q.add('y');
    assert.equal(q.len(), 0, 'adds after shutDown are dropped');
  });

  const backoffCases = [
    { name: 'defaults: 5 ms doubling', init: {}, failures: 5, delays: [5, 10, 20, 40, 80] },
    { name: 'custom base', init: { baseDelayMs: 100, maxDelayMs: 10_000 }, failures: 3, delays: [100, 200, 400] },
    {
      name: 'capped at max',
      init: { baseDelayMs: 1000, maxDelayMs: 3000 },
      failures: 4,
      delays: [1000, 2000, 3000, 3000],
    },
    {
      name: 'huge failure counts stay finite',
      init: { baseDelayMs: 1, maxDelayMs: 60_000 },
      failures: 80,
      last: 60_000,
    },
  ];
  for (const c of backoffCases) {
    test(`exponential per-key backoff: ${c.name}`, () => {
      const q = createWorkQueue(c.init, fakeClock());
      const seen: number[] = [];
      for (let i = 0; i < c.failures; i++) {
        seen.push(q.nextDelay('k'));
        q.addRateLimited('k');
      }
      if (c.delays) assert.deepEqual(seen, c.delays);
      if (c.last !== undefined) assert.equal(seen.at(-1), c.last);
      assert.equal(q.numRequeues('k'), c.failures);
      assert.equal(q.nextDelay('other'), c.init.baseDelayMs ?? 5, 'backoff is per key');
      q.forget('k');
      assert.equal(q.numRequeues('k'), 0);
      assert.equal(q.nextDelay('k'), c.init.baseDelayMs ?? 5, 'forget resets the backoff');
    });
  }

  test('a rate-limited key becomes ready only when its delay has passed', async () => {
    const clock = fakeClock();
    const q = createWorkQueue({ baseDelayMs: 100 }, clock);
    q.addRateLimited('k'); // 100 ms
    assert.equal(q.len(), 0);
    assert.equal(q.delayed(), 1);
    clock.advance(99);
    assert.equal(q.len(), 0);
    clock.advance(1);
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), 'k');
    q.done('k');
    q.addRateLimited('k'); // 200 ms
    clock.advance(199);
    assert.equal(q.len(), 0);
    clock.advance(1);
    assert.equal(q.len(), 1);
  });

  test('addAfter keeps the earliest pending delay and an immediate add does not wait', () => {
    const clock = fakeClock();
    const q = createWorkQueue({}, clock);
    q.addAfter('k', 1000);
    q.addAfter('k', 500);
    q.addAfter('k', 2000);
    assert.equal(clock.pending(), 1);
    clock.advance(500);
    assert.equal(q.len(), 1);
    q.addAfter('j', 0);
    assert.equal(q.len(), 2);
  });

  test('a delayed key that is also added now is handed out once', async () => {
    const clock = fakeClock();
    const q = createWorkQueue({}, clock);
    q.addAfter('k', 100);
    q.add('k');
    assert.equal(await q.get(), 'k');
    clock.advance(100); // the timer fires while k is in process: marks it dirty only
    assert.equal(q.len(), 0);
    q.done('k');
    assert.equal(q.len(), 1);
  });

  test('shutDown cancels pending delays', () => {
    const clock = fakeClock();
    const q = createWorkQueue({}, clock);
    q.addAfter('k', 100);
    q.shutDown();
    assert.equal(clock.pending(), 0);
    clock.advance(1000);
    assert.equal(q.len(), 0);
  });

  test('many workers drain many keys, each key processed by one worker at a time', async () => {
    const q = createWorkQueue();
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const ac = new AbortController();
    const worker = async () => {
      for (;;) {
        const key = await q.get(ac.signal);
        if (key === undefined) return;
        if (active.has(key)) overlaps++;
        active.add(key);
        await new Promise((r) => setImmediate(r));
        active.delete(key);
        processed++;
        q.done(key);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) q.add(`k${i}`);
      await new Promise((r) => setImmediate(r));
    }
    while (q.len() > 0 || q.processing() > 0) await new Promise((r) => setImmediate(r));
    ac.abort();
    await Promise.all(workers);
    assert.equal(overlaps, 0);
    assert.ok(processed >= 10 && processed <= 200, `processed ${processed}`);
  });
});
