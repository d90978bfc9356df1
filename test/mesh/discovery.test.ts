/**
 * Relays without `relayNodes`: the public nodes prove they are reachable (peers dial them back),
 * turn their relay service on and advertise it in the private DHT; the NATed nodes, bootstrapped
 * to one public node only, find them there, reserve on the nearest two, and reach each other
 * through them — and through another discovered relay when the one in use dies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMeshLab, ECHO_PORT, type MeshProc, until } from './harness.ts';

const FWD = 17000;

const status = (p: MeshProc) => p.status();

test('no relayNodes: public nodes become relays, NATed nodes find them in the DHT and fail over between them', async (t) => {
  const m = await createMeshLab({ nodes: ['c', 'r1', 'r2', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  // No relay anywhere in the configuration; everyone bootstraps the DHT from c.
  const cfg = m.config([], { dhtBootstrap: [m.addr('c')] });
  const c = await m.start('c', { config: m.config([]) });
  const r1 = await m.start('r1', { config: cfg });
  const r2 = await m.start('r2', { config: cfg });
  const publicNodes = [c, r1, r2];
  for (const p of publicNodes) {
    await p.waitLog((l) => l.msg === 'public reachability confirmed', 20_000);
    await p.waitLog((l) => l.msg === 'this node is now a relay', 5_000);
  }

  const b1 = await m.start('b1', { config: cfg });
  const a1 = await m.start('a1', { config: cfg, forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('b1');
  for (const n of [a1, b1]) {
    const s = await until(
      `${n.name} reserved on two discovered relays`,
      async () => {
        const s = await status(n);
        const held = s.relays.filter((r) => r.reserved && r.rttMs !== undefined);
        return held.length >= 2 ? s : undefined;
      },
      25_000,
    );
    assert.ok(
      s.relays.every((r) => r.source === 'discovered' && ['c', 'r1', 'r2'].includes(r.name)),
      JSON.stringify(s.relays),
    );
    assert.equal(s.relay, false, `${n.name} is behind a NAT and does not relay`);
    assert.equal(s.reachability.reachable, false);
    assert.ok(s.reachability.against > 0, `${n.name}: peers saw it behind its NAT`);
    assert.equal(s.relayDiscovery.mode, 'automatic');
  }
  for (const p of publicNodes) assert.equal((await status(p)).relayDiscovery.serving, true, p.name);
  const metrics = await a1.host.exec('curl', ['-fsS', '-m', '2', 'http://127.0.0.1:9100/metrics']);
  assert.match(metrics.stdout, /fedmesh_mesh_relay_reservations_by_source\{source="discovered"\} [2-9]/);

  const first = await m.transfer('a1', FWD, 256 << 10).done;
  assert.equal(first.identical, true, JSON.stringify(first));
  const opened = a1.logs().filter((l) => l.msg === 'tunnel opened');
  const used = (opened.at(-1)?.route as { relay?: string } | undefined)?.relay;
  assert.ok(used === 'c' || used === 'r1' || used === 'r2', `relayed through a discovered relay: ${used}`);

  const killed = publicNodes.find((p) => p.name === used) as MeshProc;
  killed.proc.signal('SIGKILL');
  const killedAt = Date.now();
  const fresh = await m.transfer('a1', FWD, 64 << 10).done;
  const freshMs = Date.now() - killedAt;
  assert.equal(fresh.identical, true, JSON.stringify(fresh));
  assert.ok(freshMs < 5_000, `new tunnel completed ${freshMs} ms after the kill`);
  const last = a1
    .logs()
    .filter((l) => l.msg === 'tunnel opened')
    .at(-1);
  const now = (last?.route as { relay?: string } | undefined)?.relay;
  assert.ok(now !== undefined && now !== used && ['c', 'r1', 'r2'].includes(now), `through another relay: ${now}`);
});
