import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createBallotBox } from './ballot.ts';
import { type HealthView, signView } from './view.ts';
import { createZoneIndex } from './zones.ts';

const WALL = Date.UTC(2026, 0, 1);

async function setup() {
  const key = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(key).toString();
  const zones = createZoneIndex(
    ['a', 'b'].map((name) => ({ name })),
    { enabled: false, label: 'x' },
  );
  let mono = 100;
  const clock = { now: () => mono, wall: () => WALL };
  const components = { keyOf: (n: string) => (n === 'a' ? peerId : undefined), zoneOf: zones.zoneOf, clock };
  const sign = (epoch: number, seq: number) => {
    const view: HealthView = {
      v: 1,
      voter: 'a',
      peerId,
      epoch,
      seq,
      time: WALL,
      zone: '*',
      verdicts: { b: { state: 'healthy', lastOkAt: WALL } },
    };
    return signView(view, key).then((s) => s.bytes);
  };
  return { components, sign, tick: (ms: number) => (mono += ms) };
}

test('ballot box: stores the latest view with its arrival time; replays refused; newer seq and epoch accepted', async () => {
  const { components, sign, tick } = await setup();
  const box = createBallotBox({ maxSkewMs: 10_000 }, components);
  const first = await sign(5, 0);
  assert.equal((await box.accept(first)).receivedAt, 100);
  await assert.rejects(box.accept(first), { code: 'ERR_VIEW_REPLAY' });
  tick(50);
  await box.accept(await sign(5, 1));
  await box.accept(await sign(6, 0)); // a restart: new epoch, seq from 0
  await assert.rejects(box.accept(await sign(5, 9)), { code: 'ERR_VIEW_REPLAY' });
  assert.deepEqual(
    box.ballots().map((b) => [b.view.epoch, b.view.seq, b.receivedAt]),
    [[6, 0, 150]],
  );
  assert.deepEqual(box.stamps().get('a'), { epoch: 6, seq: 0 });
  box.forget('a');
  assert.deepEqual(box.ballots(), []);
});

test('ballot box: stamps kept across a restart keep refusing old views', async () => {
  const { components, sign } = await setup();
  const old = await sign(5, 3);
  const before = createBallotBox({ maxSkewMs: 10_000 }, components);
  await before.accept(old);
  const after = createBallotBox({ maxSkewMs: 10_000, lastAccepted: before.stamps() }, components);
  await assert.rejects(after.accept(old), { code: 'ERR_VIEW_REPLAY' });
  // Without them, only the skew bound limits a replay: the same view is accepted again.
  await createBallotBox({ maxSkewMs: 10_000 }, components).accept(old);
});

test('ballot box: the same view delivered twice at once lands once', async () => {
  const { components, sign } = await setup();
  const box = createBallotBox({ maxSkewMs: 10_000 }, components);
  const bytes = await sign(1, 0);
  const results = await Promise.allSettled([box.accept(bytes), box.accept(bytes)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.equal(rejected.reason.code, 'ERR_VIEW_REPLAY');
  assert.equal(box.ballots().length, 1);
});

test('ballot box: a refused view stores nothing', async () => {
  const { components, sign } = await setup();
  const box = createBallotBox({ maxSkewMs: 10_000 }, { ...components, keyOf: () => undefined });
  await assert.rejects(box.accept(await sign(1, 0)), {
    name: 'ViewRejectedError',
    code: 'ERR_VIEW_UNKNOWN_VOTER',
    voter: 'a',
  });
  assert.deepEqual(box.ballots(), []);
  assert.equal(box.stamps().size, 0);
});
