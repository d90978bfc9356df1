import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judge, type ReachVerdict } from './reachability.ts';

const v = (peer: string, answer: ReachVerdict['answer'], at = 1_000): ReachVerdict => ({ peer, answer, at });

test('judge: public only with enough confirmations and no peer disagreeing', () => {
  const cases: Array<{ name: string; verdicts: ReachVerdict[]; now?: number; want: boolean }> = [
    { name: 'nobody asked', verdicts: [], want: false },
    { name: 'one confirmation is not enough', verdicts: [v('a', 'ok')], want: false },
    { name: 'two confirmations', verdicts: [v('a', 'ok'), v('b', 'ok')], want: true },
    {
      name: 'LAN peers confirm, an outside peer sees a NAT',
      verdicts: [v('a', 'ok'), v('b', 'ok'), v('r', 'nat')],
      want: false,
    },
    { name: 'a failed dial-back vetoes', verdicts: [v('a', 'ok'), v('b', 'ok'), v('c', 'failed')], want: false },
    {
      name: 'stale answers do not count',
      verdicts: [v('a', 'ok', 0), v('b', 'ok', 0)],
      now: 10 * 60_000,
      want: false,
    },
    {
      name: 'a stale veto no longer counts',
      verdicts: [v('a', 'ok', 10 * 60_000), v('b', 'ok', 10 * 60_000), v('r', 'nat', 0)],
      now: 10 * 60_000 + 1,
      want: true,
    },
  ];
  for (const c of cases) {
    assert.equal(judge(c.verdicts, c.now ?? 2_000).reachable, c.want, c.name);
  }
});
