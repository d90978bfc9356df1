/**
 * LAN autonomy (the seeds' private-LAN case): two nodes of one LAN find each other with mDNS and
 * keep tunnelling directly when the LAN's way to the public segment and its relay is cut — also
 * after one of them restarts while cut off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMeshLab, ECHO_PORT, type MeshProc, until } from './harness.ts';

const FWD = 17000;

const peerRoute = async (p: MeshProc, node: string) => (await p.status()).peers.find((x) => x.node === node)?.route;

test('LAN autonomy: with the public segment cut, A1 and A2 still tunnel directly (mDNS), even after a restart', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'a2'] });
  t.after(() => m.destroy());
  await m.start('r1', { relays: ['r1'] });
  let a2 = await m.start('a2', { relays: ['r1'] });
  const a1 = await m.start('a1', { relays: ['r1'], forwards: [`${FWD}=a2:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('a2');
  await until(
    'a1 to find a2 on the LAN',
    async () => ((await peerRoute(a1, 'a2')) === 'direct' ? true : undefined),
    15_000,
  );
  const first = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(first.identical, true, JSON.stringify(first));

  // The LAN's uplink goes down: no relay, no DHT, no public segment.
  await m.lab.host('ra').cutLink('pub');
  const cut = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(cut.identical, true, JSON.stringify(cut));

  // A2 restarts while the LAN is cut off: A1 finds it again through mDNS alone.
  await a2.proc.stop('SIGTERM', 5_000);
  a2 = await m.start('a2', { relays: ['r1'] });
  await until(
    'a1 to find the restarted a2',
    async () => ((await peerRoute(a1, 'a2')) === 'direct' ? true : undefined),
    15_000,
  );
  const after = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(after.identical, true, JSON.stringify(after));
  const routes = a1
    .logs()
    .filter((l) => l.msg === 'tunnel opened')
    .map((l) => (l.route as { kind: string }).kind);
  assert.deepEqual(routes, ['direct', 'direct', 'direct']);
  assert.equal(a2.proc.running(), true);
});
