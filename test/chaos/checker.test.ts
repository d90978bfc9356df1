/** The chaos checker on hand-made histories: each property holds on a clean one and is refuted by each kind of violation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkConvergence,
  checkFencing,
  checkHistory,
  checkReports,
  checkTunnel,
  type PropertyVerdict,
} from './checker.ts';
import type { HistoryEvent } from './history.ts';

let clock = 0;
const ev = (who: string, what: string, fields: Record<string, unknown> = {}): HistoryEvent => {
  clock += 10;
  return { t: clock, who, what, ...fields };
};
const pass = (who: string, pid: number, epoch: number, window = 100) =>
  ev(who, 'guard.pass', { pid, epoch, until: clock + 10 + window });
const accepted = (seq: number, key = 'Dataset/ns/ds', coalesce = false) =>
  ev('edge-1', 'report.accepted', { instance: 'i1', seq, key, coalesce });
const applied = (seq: number, key = 'Dataset/ns/ds', written = 1, ok = true) =>
  ev('gm-a', 'report.applied', { instance: 'i1', seq, key, ok, written });
const obj = (lc: string, key: string, rv: string, op = 'upsert') => ev(lc, 'object.applied', { key, rv, op });
const expect = (node: string, objects: Record<string, string>) => ev('harness', 'lc.expect', { node, objects });
const stream = (n: number, sent: number, received: number, more: Record<string, unknown> = {}) =>
  ev('harness', 'tunnel.stream', { stream: n, sent, received, ...more });

const cases: Array<{
  name: string;
  check: (e: HistoryEvent[]) => PropertyVerdict;
  events: () => HistoryEvent[];
  ok: boolean;
}> = [
  {
    name: 'fencing: successive terms with gaps hold',
    check: checkFencing,
    events: () => [
      pass('a', 1, 1),
      pass('a', 1, 1),
      ev('x', 'gap', {}),
      ...Array(20)
        .fill(0)
        .map(() => ev('x', 'tick')),
      pass('b', 2, 2),
    ],
    ok: true,
  },
  {
    name: 'fencing: another replica passing inside the first one’s window is refuted',
    check: checkFencing,
    events: () => [pass('a', 1, 1, 1000), pass('b', 2, 2)],
    ok: false,
  },
  {
    name: 'fencing: a term ended early (released on SIGTERM) lets the next leader in before its window closed',
    check: checkFencing,
    events: () => [pass('a', 1, 1, 1000), ev('a', 'term.end', { pid: 1, epoch: 1 }), pass('b', 2, 2)],
    ok: true,
  },
  {
    name: 'fencing: a pass after the end of another process’s term is no excuse for one inside it',
    check: checkFencing,
    events: () => [pass('a', 1, 1, 1000), pass('b', 2, 2), ev('a', 'term.end', { pid: 1, epoch: 1 })],
    ok: false,
  },
  {
    name: 'fencing: an older epoch after a newer one is refuted',
    check: checkFencing,
    events: () => [pass('a', 1, 5, 1), ev('x', 'tick'), pass('b', 2, 4, 1)],
    ok: false,
  },
  {
    name: 'fencing: one epoch claimed by two replicas is refuted',
    check: checkFencing,
    events: () => [pass('a', 1, 3, 1), ev('x', 'tick'), pass('b', 2, 3, 1)],
    ok: false,
  },
  {
    name: 'reports: each accepted report lands once, in order; a redelivery that writes nothing is fine',
    check: checkReports,
    events: () => [accepted(1), accepted(2), applied(1), applied(1, undefined, 0), applied(2)],
    ok: true,
  },
  {
    name: 'reports: a coalesced report replaced by a later one may be skipped; a dead letter is accounted for',
    check: checkReports,
    events: () => [
      accepted(1, 'D/ns/a', true),
      accepted(2, 'D/ns/a', true),
      applied(2, 'D/ns/a'),
      accepted(3, 'I/ns/b'),
      ev('edge-1', 'report.deadLettered', { instance: 'i1', seq: 3 }),
    ],
    ok: true,
  },
  {
    name: 'reports: a lost report is refuted',
    check: checkReports,
    events: () => [accepted(1), accepted(2), applied(1)],
    ok: false,
  },
  {
    name: 'reports: a lost last coalesced report is refuted',
    check: checkReports,
    events: () => [accepted(1, 'D/ns/a', true), accepted(2, 'D/ns/a', true), applied(1, 'D/ns/a')],
    ok: false,
  },
  {
    name: 'reports: a report landing twice is refuted',
    check: checkReports,
    events: () => [accepted(1), applied(1), applied(1)],
    ok: false,
  },
  {
    name: 'reports: a redelivery landing on the object created again in between is counted, not a double write',
    check: checkReports,
    events: () => [accepted(1), applied(1), ev('harness', 'object.recreated', { key: 'Dataset/ns/ds' }), applied(1)],
    ok: true,
  },
  {
    name: 'reports: an older report landing after a newer one is refuted',
    check: checkReports,
    events: () => [accepted(1), accepted(2), applied(2), applied(1)],
    ok: false,
  },
  {
    name: 'convergence: newer versions, a delete and the same version back; ends as expected',
    check: checkConvergence,
    events: () => [
      obj('edge-1', 'k', '5'),
      obj('edge-1', 'k', '7'),
      obj('edge-1', 'k', '', 'delete'),
      obj('edge-1', 'k', '7'),
      expect('edge-1', { k: '7' }),
    ],
    ok: true,
  },
  {
    name: 'convergence: an older version after a newer one is refuted',
    check: checkConvergence,
    events: () => [obj('edge-1', 'k', '7'), obj('edge-1', 'k', '5'), expect('edge-1', { k: '5' })],
    ok: false,
  },
  {
    name: 'convergence: an LC ending behind the API is refuted',
    check: checkConvergence,
    events: () => [obj('edge-1', 'k', '5'), expect('edge-1', { k: '9' })],
    ok: false,
  },
  {
    name: 'convergence: an LC still holding an object that is not its own is refuted',
    check: checkConvergence,
    events: () => [obj('edge-1', 'k', '5'), obj('edge-1', 'j', '6'), expect('edge-1', { k: '5' })],
    ok: false,
  },
  {
    name: 'convergence: a history without expectations proves nothing',
    check: checkConvergence,
    events: () => [obj('edge-1', 'k', '5')],
    ok: false,
  },
  {
    name: 'tunnel: complete streams and a loud failure hold',
    check: checkTunnel,
    events: () => [stream(1, 100, 100), stream(2, 100, 40, { error: 'ECONNRESET' })],
    ok: true,
  },
  {
    name: 'tunnel: a clean end short of what was sent is refuted',
    check: checkTunnel,
    events: () => [stream(1, 100, 40)],
    ok: false,
  },
  {
    name: 'tunnel: a byte out of order is refuted even when the stream failed',
    check: checkTunnel,
    events: () => [stream(1, 100, 40, { corruptAt: 17, error: 'closed' })],
    ok: false,
  },
];

for (const c of cases) {
  test(`checker: ${c.name}`, () => {
    const v = c.check(c.events());
    assert.equal(v.ok, c.ok, JSON.stringify(v));
    assert.equal(v.violations.length > 0, !c.ok);
  });
}

test('checker: checkHistory combines the four and fails when one fails', () => {
  const good = [
    pass('a', 1, 1),
    accepted(1),
    applied(1),
    obj('edge-1', 'k', '5'),
    expect('edge-1', { k: '5' }),
    stream(1, 10, 10),
  ];
  assert.equal(checkHistory(good).ok, true);
  assert.equal(checkHistory([...good, applied(1)]).ok, false);
  assert.deepEqual(
    checkHistory(good, ['tunnel']).properties.map((p) => p.name),
    ['tunnel'],
  );
});
