/**
 * Partitions end to end through the core: five real probers with their own keys, a network that
 * can be cut, every signed view through a ballot box, then the tally (unit level: no sockets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createBallotBox } from './ballot.ts';
import { createProber, type Prober } from './prober.ts';
import { type Outcome, tallyZone } from './tally.ts';
import { createZoneIndex } from './zones.ts';

const WALL = Date.UTC(2026, 0, 1);
const LABEL = 'fedmesh.io/topology-zone';
const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];

async function cluster(names: string[]) {
  const zones = createZoneIndex(
    names
      .map((name) => ({ name, labels: { [LABEL]: 'plant' } }))
      .concat([{ name: 'far', labels: { [LABEL]: 'port' } }]),
    { enabled: true, label: LABEL },
  );
  /** side[n]: nodes on one side reach each other only. */
  let side = new Map(names.map((n) => [n, 0]));
  const pins = new Map<string, string>();
  const probers = new Map<string, Prober>();
  // Time never moves here: probes answer at once, so no deadline ever passes (sleeps end on abort).
  const clock = {
    now: () => 0,
    wall: () => WALL,
    sleep: (_ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  };
  for (const name of names) {
    const key = await generateKeyPair('Ed25519');
    const peerId = peerIdFromPrivateKey(key).toString();
    pins.set(name, peerId);
    const timing = { periodMs: 5_000, timeoutMs: 2_000, failureThreshold: 3 };
    const prober = createProber(
      { self: name, peerId, epoch: 1, timing },
      {
        key,
        zone: () => zones.zoneOf(name),
        clock,
        probe: async (node) => side.get(node) === side.get(name),
        publish: () => {},
      },
    );
    probers.set(name, prober);
  }
  const signal = new AbortController().signal;
  return {
    split(...groups: string[][]) {
      side = new Map(groups.flatMap((g, i) => g.map((n) => [n, i])));
    },
    /** Runs `rounds` periods; the last views of `heard` (default all) reach a fresh ballot box. */
    async decide(rounds: number, heard = names): Promise<Record<string, Outcome>> {
      const box = createBallotBox(
        { maxSkewMs: 10_000 },
        { keyOf: (n) => pins.get(n), zoneOf: zones.zoneOf, clock: { now: () => 0, wall: () => WALL } },
      );
      const views = new Map<string, Uint8Array>();
      for (let i = 0; i < rounds; i++) {
        for (const [name, p] of probers) views.set(name, (await p.round(signal)).bytes);
      }
      for (const n of heard) await box.accept(views.get(n) as Uint8Array);
      const tally = tallyZone({ zone: zones.zoneOf('n1'), ballots: box.ballots(), now: 0, windowMs: 15_000 });
      return Object.fromEntries([...tally].map(([n, r]) => [n, r.outcome]));
    },
    verdicts: (name: string) => probers.get(name)?.neighbours(),
  };
}

const all = (o: Outcome, names = NAMES) => Object.fromEntries(names.map((n) => [n, o]));

test('partition: a 5-node zone split 3 | 2 — each side judges the other unhealthy, the larger side wins', async () => {
  const c = await cluster(NAMES);
  assert.deepEqual(await c.decide(1), all('healthy'));
  c.split(['n1', 'n2', 'n3'], ['n4', 'n5']);
  // Fewer than failureThreshold failed probes: nobody has changed its mind yet.
  assert.deepEqual(await c.decide(2), all('healthy'));
  const outcome = await c.decide(1);
  for (const [judge, others] of [
    ['n1', ['n4', 'n5']],
    ['n4', ['n1', 'n2', 'n3']],
  ] as const) {
    for (const n of others) assert.equal(c.verdicts(judge)?.get(n)?.state, 'unhealthy', `${judge} on ${n}`);
  }
  assert.equal(c.verdicts('n4')?.get('n5')?.state, 'healthy');
  assert.deepEqual(outcome, { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'unhealthy', n5: 'unhealthy' });
  // The cloud links of the 2 cut too (their views never arrive): same outcome.
  assert.deepEqual(await c.decide(1, ['n1', 'n2', 'n3']), outcome);
  // Healed: one good probe each and the zone is healthy again.
  c.split(NAMES);
  assert.deepEqual(await c.decide(1), all('healthy'));
});

test('partition: a 4-node zone split 2 | 2 is a tie — unknown on both sides (neither evicts nor protects)', async () => {
  const four = NAMES.slice(0, 4);
  const c = await cluster(four);
  c.split(['n1', 'n2'], ['n3', 'n4']);
  assert.deepEqual(await c.decide(3), all('unknown', four));
});

test('partition: one node cut from every peer is unhealthy whether or not its own view arrives', async () => {
  const c = await cluster(NAMES);
  c.split(['n1', 'n2', 'n3', 'n4'], ['n5']);
  const want = { ...all('healthy'), n5: 'unhealthy' };
  assert.deepEqual(await c.decide(3), want);
  assert.deepEqual(await c.decide(1, NAMES.slice(0, 4)), want);
});
