import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProviderCandidate, rankProviders } from './choice.ts';

const c = (node: string, extra: Partial<ProviderCandidate> = {}): ProviderCandidate => ({
  node,
  peerId: `peer-${node}`,
  host: '127.0.0.1',
  port: 9000,
  path: 'none',
  ...extra,
});

test('provider choice: healthy first, then direct > punched > relayed > none, then RTT, then name', () => {
  const now = 100_000;
  const penalty = 30_000;
  const cases: Array<{ name: string; in: ProviderCandidate[]; want: string[] }> = [
    {
      name: 'path class beats RTT',
      in: [
        c('relayed-fast', { path: 'relayed', rttMs: 1 }),
        c('none'),
        c('direct-slow', { path: 'direct', rttMs: 80 }),
        c('punched', { path: 'punched', rttMs: 5 }),
      ],
      want: ['direct-slow', 'punched', 'relayed-fast', 'none'],
    },
    {
      name: 'within a class the nearer first, unknown RTT last',
      in: [
        c('r-unknown', { path: 'relayed' }),
        c('r-40', { path: 'relayed', rttMs: 40 }),
        c('r-9', { path: 'relayed', rttMs: 9 }),
      ],
      want: ['r-9', 'r-40', 'r-unknown'],
    },
    {
      name: 'a provider that just failed goes last, even on the best path',
      in: [c('direct-failed', { path: 'direct', rttMs: 1, failedAt: now - 1_000 }), c('relayed', { path: 'relayed' })],
      want: ['relayed', 'direct-failed'],
    },
    {
      name: 'the penalty ends',
      in: [c('relayed', { path: 'relayed' }), c('direct-old-failure', { path: 'direct', failedAt: now - penalty })],
      want: ['direct-old-failure', 'relayed'],
    },
    {
      name: 'all failed: still tried, best first',
      in: [c('b', { path: 'relayed', failedAt: now - 1 }), c('a', { path: 'direct', failedAt: now - 2 })],
      want: ['a', 'b'],
    },
    {
      name: 'unconnected and not in the last DHT answer (gone for good?) go after the rest',
      in: [
        c('gone', { rttMs: 1, listed: false }),
        c('fresh', { rttMs: 50 }),
        c('connected-unlisted', { path: 'relayed', listed: false }),
      ],
      want: ['connected-unlisted', 'fresh', 'gone'],
    },
    { name: 'ties by name', in: [c('gm-2'), c('gm-0'), c('gm-1')], want: ['gm-0', 'gm-1', 'gm-2'] },
    { name: 'empty', in: [], want: [] },
  ];
  for (const t of cases) {
    const input = [...t.in];
    assert.deepEqual(
      rankProviders(t.in, now, penalty).map((x) => x.node),
      t.want,
      t.name,
    );
    assert.deepEqual(t.in, input, `${t.name}: input unchanged`);
  }
});
