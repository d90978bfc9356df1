import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createBallotBox } from './ballot.ts';
import { createProber, type HealthClock, type ProberComponents } from './prober.ts';
import type { SignedView } from './view.ts';
import { createZoneIndex, type Zone } from './zones.ts';

const WALL = Date.UTC(2026, 0, 1);

function fakeClock(): HealthClock & { advance(ms: number): Promise<void>; pending(): number } {
  let t = 0;
  let timers: Array<{ at: number; fire: () => void }> = [];
  return {
    now: () => t,
    wall: () => WALL + t,
    sleep(ms, signal) {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const timer = { at: t + ms, fire: () => resolve() };
        timers.push(timer);
        signal.addEventListener('abort', () => {
          timers = timers.filter((x) => x !== timer);
          resolve();
        });
      });
    },
    async advance(ms) {
      await tick();
      t += ms;
      const due = timers.filter((x) => x.at <= t);
      timers = timers.filter((x) => x.at > t);
      for (const x of due) x.fire();
      await tick();
    },
    pending: () => timers.length,
  };
}

const zoneOf = (names: string[], self = 'a'): Zone =>
  createZoneIndex(
    names.map((name) => ({ name })),
    { enabled: false, label: 'x' },
  ).zoneOf(self);

async function setup(over: Partial<ProberComponents> = {}, members = ['a', 'b', 'c']) {
  const key = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(key).toString();
  const clock = fakeClock();
  let zone = zoneOf(members);
  const results = new Map<string, boolean | 'hang' | 'throw'>();
  const published: SignedView[] = [];
  const prober = createProber(
    { self: 'a', peerId, epoch: 4, timing: { periodMs: 5_000, timeoutMs: 2_000, failureThreshold: 3 } },
    {
      key,
      zone: () => zone,
      clock,
      probe: async (node, signal) => {
        const r = results.get(node) ?? true;
        if (r === 'throw') throw new Error('dial failed');
        if (r === 'hang') return new Promise<boolean>(() => {}); // ignores its signal on purpose
        return r && !signal.aborted;
      },
      publish: (v) => {
        published.push(v);
      },
      ...over,
    },
  );
  return { prober, clock, results, published, peerId, setZone: (z: Zone) => (zone = z) };
}

test('prober: one success is healthy, failureThreshold failures unhealthy, fewer keep the last verdict', async () => {
  const { prober, results } = await setup();
  const steps: Array<{ name: string; b: boolean | 'throw'; want: string | undefined }> = [
    { name: 'first probe fails: abstain', b: false, want: undefined },
    { name: 'second fails: abstain', b: 'throw', want: undefined },
    { name: 'third fails: unhealthy', b: false, want: 'unhealthy' },
    { name: 'one success: healthy', b: true, want: 'healthy' },
    { name: 'one failure after: still healthy', b: false, want: 'healthy' },
    { name: 'two: still healthy', b: false, want: 'healthy' },
    { name: 'three: unhealthy', b: false, want: 'unhealthy' },
  ];
  const signal = new AbortController().signal;
  for (const s of steps) {
    results.set('b', s.b);
    const { view } = await prober.round(signal);
    assert.equal(view.verdicts.b?.state, s.want, s.name);
    assert.equal(view.verdicts.c?.state, 'healthy', s.name);
  }
  assert.equal(prober.neighbours().get('b')?.failures, 3);
  assert.equal(typeof prober.neighbours().get('b')?.lastOkAt, 'number');
});

test('prober: a probe past its deadline is a failure, even one that ignores its signal', async () => {
  const seen = new Map<string, AbortSignal>();
  const { prober, clock, results } = await setup({
    probe: (node, signal) => {
      seen.set(node, signal);
      return node === 'b' ? new Promise(() => {}) : Promise.resolve(true);
    },
  });
  results.clear();
  prober.reconfigure({ periodMs: 5_000, timeoutMs: 2_000, failureThreshold: 1 });
  const round = prober.round(new AbortController().signal);
  await clock.advance(1_999);
  assert.equal(seen.get('b')?.aborted, false, 'b is still being probed before its deadline');
  await clock.advance(1);
  const { view } = await round;
  assert.equal(view.verdicts.b?.state, 'unhealthy');
  assert.equal(view.verdicts.c?.state, 'healthy');
  assert.ok(
    [...seen.values()].every((s) => s.aborted),
    'every probe signal is aborted once the probe is over',
  );
  assert.equal(clock.pending(), 0, 'no deadline timer left behind');
});

test('prober: the view is signed, verifiable, stamped (epoch given, seq counting) and follows the zone', async () => {
  const { prober, peerId, setZone } = await setup();
  const signal = new AbortController().signal;
  const box = createBallotBox(
    { maxSkewMs: 10_000 },
    {
      keyOf: (n) => (n === 'a' ? peerId : undefined),
      zoneOf: () => zoneOf(['a', 'b', 'c']),
      clock: { now: () => 0, wall: () => WALL },
    },
  );
  const first = await prober.round(signal);
  assert.deepEqual(
    { voter: first.view.voter, epoch: first.view.epoch, seq: first.view.seq, zone: first.view.zone },
    { voter: 'a', epoch: 4, seq: 0, zone: '*' },
  );
  assert.deepEqual(Object.keys(first.view.verdicts), ['b', 'c']);
  await box.accept(first.bytes);
  const second = await prober.round(signal);
  assert.equal(second.view.seq, 1);
  await box.accept(second.bytes);
  // c leaves the zone: it is no longer probed nor judged.
  setZone(zoneOf(['a', 'b']));
  const third = await prober.round(signal);
  assert.deepEqual(Object.keys(third.view.verdicts), ['b']);
  assert.deepEqual([...prober.neighbours().keys()], ['b']);
});

test('prober: start publishes every period and resolves once aborted', async () => {
  const { prober, clock, published } = await setup();
  const ctl = new AbortController();
  const running = prober.start(ctl.signal);
  await clock.advance(0);
  assert.equal(published.length, 1);
  await clock.advance(4_999);
  assert.equal(published.length, 1);
  await clock.advance(1);
  await clock.advance(5_000);
  assert.equal(published.length, 3);
  assert.deepEqual(
    published.map((p) => p.view.seq),
    [0, 1, 2],
  );
  ctl.abort();
  await running;
  assert.equal(clock.pending(), 0);
});

test('prober: a failing publish is logged and the loop goes on', async () => {
  let calls = 0;
  const { prober, clock } = await setup({
    publish: () => {
      calls++;
      throw new Error('no route');
    },
  });
  const ctl = new AbortController();
  const running = prober.start(ctl.signal);
  await clock.advance(0);
  await clock.advance(5_000);
  assert.equal(calls, 2);
  ctl.abort();
  await running;
});

test('prober: aborting mid-round stops at once and records nothing', async () => {
  const { prober, results } = await setup();
  results.set('b', 'hang');
  results.set('c', 'hang');
  const ctl = new AbortController();
  const round = prober.round(ctl.signal);
  await tick();
  ctl.abort();
  await round;
  assert.equal(prober.neighbours().size, 0);
});
