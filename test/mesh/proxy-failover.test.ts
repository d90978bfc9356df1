/**
 * A proxied long transfer survives a relay failover byte for byte: a client on a1 streams 24 MiB
 * through the ClusterIP to an echo server on b1; both LANs sit behind symmetric NATs, so the
 * proxy's tunnel runs through a relay. Mid-transfer the relay in use is killed (SIGKILL); the
 * tunnel resumes through the other relay (the mesh's stream resume) and every byte comes back.
 *
 *   pub   r1, r2 (relays), root (API server)
 *   lana  a1 (agent, client)      lanb  b1 (agent, echo server)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ECHO_PORT, until } from './harness.ts';
import { startProxyLab } from './proxy-lab.ts';

const BYTES = 24 << 20;

test('a proxied long transfer through a relay completes byte for byte after that relay is killed', async (t) => {
  const p = await startProxyLab(t, { nodes: ['r1', 'r2', 'a1', 'b1'], relays: ['r1', 'r2'], mapping: 'symmetric' });
  const { m, ip } = p;
  await m.echo('b1', { host: m.addr('b1'), port: ECHO_PORT });
  await p.setEndpoints([['b1']]);
  await p.agent('b1');
  await p.agent('a1');
  for (const n of ['a1', 'b1'] as const) {
    await until(
      `${n} reserved on r1 and r2`,
      async () => {
        const s = await p.mesh(n).status();
        return s.relays.filter((r) => r.reserved && r.rttMs !== undefined).length === 2 ? true : undefined;
      },
      30_000,
    );
  }
  await until(
    'the proxy to reach b1',
    async () => ((await m.transfer('a1', 80, 1024, 0, ip).done).identical ? true : undefined),
    60_000,
  );

  const long = m.transfer('a1', 80, BYTES, 4 << 20, ip);
  await until('the transfer to be under way', () => (long.progress() >= 2 << 20 ? true : undefined), 30_000);
  const tunnels = (await p.mesh('a1').status()).tunnels;
  const used = tunnels.map((x) => x.route?.relay).find((r) => r === 'r1' || r === 'r2');
  assert.ok(used, `the proxy's tunnel runs through a relay: ${JSON.stringify(tunnels)}`);
  const other = used === 'r1' ? 'r2' : 'r1';
  p.mesh(used).proc.signal('SIGKILL');

  const res = await long.done;
  assert.equal(res.identical, true, JSON.stringify(res));
  assert.equal(res.received, BYTES);
  const resumed = p
    .mesh('a1')
    .logs()
    .find((l) => l.msg === 'tunnel resumed');
  assert.ok(resumed, 'the tunnel resumed on a new path');
  assert.equal((resumed.route as { relay?: string }).relay, other);
});
