import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Ballot, freshViews, type Outcome, tallyAnnotation, tallyNode, tallyZone } from './tally.ts';
import type { HealthView } from './view.ts';
import { createZoneIndex, type Zone } from './zones.ts';

const zoneOf = (names: string[]): Zone =>
  createZoneIndex(
    names.map((name) => ({ name })),
    { enabled: false, label: 'x' },
  ).zoneOf(names[0] as string);

/** A view in which `voter` sees `healthy` as healthy and `unhealthy` as unhealthy. */
function ballot(voter: string, healthy: string[], unhealthy: string[], receivedAt = 0, seq = 0): Ballot {
  const verdicts: HealthView['verdicts'] = {};
  for (const n of healthy) verdicts[n] = { state: 'healthy', lastOkAt: 1 };
  for (const n of unhealthy) verdicts[n] = { state: 'unhealthy', lastOkAt: null };
  return { view: { v: 1, voter, peerId: `p-${voter}`, epoch: 1, seq, time: 1, zone: '*', verdicts }, receivedAt };
}

/** Every node of `side` sees its side healthy and every other member unhealthy. */
function sides(all: string[], ...groups: string[][]): Ballot[] {
  return groups.flatMap((g) =>
    g.map((v) =>
      ballot(
        v,
        g.filter((n) => n !== v),
        all.filter((n) => !g.includes(n)),
      ),
    ),
  );
}

const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];
const outcomes = (zone: Zone, ballots: Ballot[]) =>
  Object.fromEntries([...tallyZone({ zone, ballots, now: 0, windowMs: 15_000 })].map(([n, r]) => [n, r.outcome]));

const cases: Array<{ name: string; members: string[]; ballots: Ballot[]; want: Record<string, Outcome> }> = [
  {
    name: 'all see all: everyone healthy',
    members: FIVE,
    ballots: sides(FIVE, FIVE),
    want: { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'healthy', n5: 'healthy' },
  },
  {
    name: '3 | 2 split, every view arrives: the larger side healthy, the smaller unhealthy',
    members: FIVE,
    ballots: sides(FIVE, ['n1', 'n2', 'n3'], ['n4', 'n5']),
    want: { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'unhealthy', n5: 'unhealthy' },
  },
  {
    name: '3 | 2 split, the 2 views lost (their cloud link cut): same outcome',
    members: FIVE,
    ballots: sides(FIVE, ['n1', 'n2', 'n3']),
    want: { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'unhealthy', n5: 'unhealthy' },
  },
  {
    name: '2 | 2 split: a tie, unknown on both sides',
    members: FIVE.slice(0, 4),
    ballots: sides(FIVE.slice(0, 4), ['n1', 'n2'], ['n3', 'n4']),
    want: { n1: 'unknown', n2: 'unknown', n3: 'unknown', n4: 'unknown' },
  },
  {
    name: 'one node cut from its peers, its own view still arrives: unhealthy',
    members: FIVE,
    ballots: sides(FIVE, ['n1', 'n2', 'n3', 'n4'], ['n5']),
    want: { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'healthy', n5: 'unhealthy' },
  },
  {
    name: 'one node cut from the cloud only (its view lost), peers see it: healthy',
    members: FIVE,
    ballots: sides(FIVE, FIVE).filter((b) => b.view.voter !== 'n5'),
    want: { n1: 'healthy', n2: 'healthy', n3: 'healthy', n4: 'healthy', n5: 'healthy' },
  },
  {
    name: 'a node alone never vouches for itself',
    members: ['n1'],
    ballots: [ballot('n1', ['n1'], [])],
    want: { n1: 'unknown' },
  },
  {
    name: 'two nodes, one dead: the survivor unknown, the dead one unhealthy',
    members: ['n1', 'n2'],
    ballots: [ballot('n1', [], ['n2'])],
    want: { n1: 'unknown', n2: 'unhealthy' },
  },
  {
    name: 'no views: unknown',
    members: FIVE.slice(0, 3),
    ballots: [],
    want: { n1: 'unknown', n2: 'unknown', n3: 'unknown' },
  },
  {
    name: 'abstentions (not probed yet) count in n: unknown rather than a thin majority',
    members: FIVE,
    ballots: [ballot('n1', ['n5'], []), ballot('n2', [], []), ballot('n3', [], []), ballot('n4', [], [])],
    want: { n1: 'unknown', n2: 'unknown', n3: 'unknown', n4: 'unknown', n5: 'unknown' },
  },
  {
    name: "a node's verdict on itself is never read",
    members: FIVE.slice(0, 3),
    ballots: [ballot('n1', ['n1'], ['n2', 'n3']), ballot('n2', ['n3'], ['n1']), ballot('n3', ['n2'], ['n1'])],
    want: { n1: 'unhealthy', n2: 'healthy', n3: 'healthy' },
  },
];

for (const c of cases) {
  test(`tally: ${c.name}`, () => assert.deepEqual(outcomes(zoneOf(c.members), c.ballots), c.want));
}

test('tally: one lying voter cannot sway a majority alone', () => {
  // Healthy zone; n5 lies that n1 is unhealthy.
  const liar = ballot('n5', ['n2', 'n3', 'n4'], ['n1']);
  const honest = sides(FIVE, FIVE).filter((b) => b.view.voter !== 'n5');
  assert.equal(
    tallyNode('n1', { zone: zoneOf(FIVE), ballots: [...honest, liar], now: 0, windowMs: 1 })?.outcome,
    'healthy',
  );
  // n1 is cut from everyone (no view from it); n5 lies that it is healthy.
  const four = ['n2', 'n3', 'n4', 'n5'];
  const cut = [...sides(FIVE, four).filter((b) => b.view.voter !== 'n5'), ballot('n5', ['n1', 'n2', 'n3', 'n4'], [])];
  const r = tallyNode('n1', { zone: zoneOf(FIVE), ballots: cut, now: 0, windowMs: 1 });
  assert.equal(r?.outcome, 'unhealthy');
  assert.deepEqual(r?.supporters, ['n5']);
  assert.deepEqual(r?.accusers, ['n2', 'n3', 'n4']);
});

test('tally: only views received within the window count, the latest per voter', () => {
  const zone = zoneOf(['n1', 'n2', 'n3']);
  const ballots = [
    ballot('n2', [], ['n1'], 1_000, 0),
    ballot('n2', ['n1'], [], 9_000, 1), // n2's newer view
    ballot('n3', [], ['n1'], 1_000), // stale at now = 20 000, window 15 000
  ];
  const input = { zone, ballots, now: 20_000, windowMs: 15_000 };
  assert.deepEqual([...freshViews(input).keys()], ['n2']);
  const r = tallyNode('n1', input);
  assert.deepEqual(
    { outcome: r?.outcome, voters: r?.voters, for: r?.supporters },
    { outcome: 'healthy', voters: 1, for: ['n2'] },
  );
  assert.equal(tallyNode('n1', { ...input, now: 30_000 })?.outcome, 'unknown');
  assert.equal(tallyNode('zz', input), undefined);
});

test('tally: views of another zone id or voter are ignored', () => {
  const zone = zoneOf(['n1', 'n2', 'n3']);
  const foreign = ballot('n2', [], ['n1']);
  foreign.view.zone = 'other';
  const outsider = ballot('q1', [], ['n1']);
  const r = tallyNode('n1', { zone, ballots: [foreign, outsider, ballot('n3', ['n1'], [])], now: 0, windowMs: 1 });
  assert.equal(r?.voters, 1);
});

test('tally: the annotation is one deterministic line', () => {
  const r = tallyNode('n4', {
    zone: zoneOf(FIVE),
    ballots: sides(FIVE, ['n1', 'n2', 'n3'], ['n4', 'n5']),
    now: 0,
    windowMs: 1,
  });
  assert.ok(r);
  assert.equal(tallyAnnotation(r), '{"against":3,"for":1,"outcome":"unhealthy","self":true,"voters":5}');
});
