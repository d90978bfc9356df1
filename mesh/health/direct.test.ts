import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { dialAny, dialTcp, directAddrs } from './direct.ts';

const cases = [
  {
    name: 'ip4 and ip6 tcp kept, port parsed',
    addrs: ['/ip4/10.0.0.1/tcp/4001', '/ip6/fd00::1/tcp/4001/p2p/12D3KooW'],
    want: ['10.0.0.1:4001', 'fd00::1:4001'],
  },
  {
    name: 'relayed, loopback, unspecified, udp and ws left out',
    addrs: [
      '/ip4/10.0.0.1/tcp/4001/p2p/X/p2p-circuit',
      '/ip4/127.0.0.1/tcp/4001',
      '/ip6/::1/tcp/4001',
      '/ip4/0.0.0.0/tcp/4001',
      '/ip4/10.0.0.2/udp/4001/quic-v1',
      '/ip4/10.0.0.3/tcp/80/ws',
    ],
    want: [],
  },
  {
    name: 'duplicates once, at most three',
    addrs: [
      '/ip4/10.0.0.1/tcp/1',
      '/ip4/10.0.0.1/tcp/1',
      '/ip4/10.0.0.2/tcp/1',
      '/ip4/10.0.0.3/tcp/1',
      '/ip4/10.0.0.4/tcp/1',
    ],
    want: ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'],
  },
  { name: 'port out of range refused', addrs: ['/ip4/10.0.0.1/tcp/70000'], want: [] },
];
for (const c of cases) {
  test(`directAddrs: ${c.name}`, () => {
    assert.deepEqual(
      directAddrs(c.addrs).map((a) => `${a.host}:${a.port}`),
      c.want,
    );
  });
}

test('dialTcp: a listening port answers; a closed one and an aborted dial fail; dialAny of none is false', async (t) => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  await dialTcp({ host: '127.0.0.1', port }, AbortSignal.timeout(2_000));
  assert.equal(await dialAny([{ host: '127.0.0.1', port }], AbortSignal.timeout(2_000)), true);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  assert.equal(await dialAny([{ host: '127.0.0.1', port: closedPort }], AbortSignal.timeout(2_000)), false);
  // 192.0.2.0/24 is TEST-NET-1: nothing answers, the deadline ends the dial.
  assert.equal(await dialAny([{ host: '192.0.2.1', port: 9 }], AbortSignal.timeout(100)), false);
  assert.equal(await dialAny([], AbortSignal.timeout(100)), false);
});
