/**
 * Hole punching (DCUtR + TCP simultaneous open from a fixed dial port): through endpoint-
 * independent NATs a relayed connection becomes direct; through symmetric NATs the relay keeps
 * carrying the traffic and the log says why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMeshLab, ECHO_PORT, type MeshLab, type MeshProc, until } from './harness.ts';

const FWD = 17000;

async function setup(t: import('node:test').TestContext, mapping: 'endpoint-independent' | 'symmetric') {
  const m: MeshLab = await createMeshLab({ nodes: ['r1', 'r2', 'a1', 'b1'], mapping });
  t.after(() => m.destroy());
  const relays = ['r1', 'r2'] as const;
  await m.start('r1', { relays: [...relays] });
  await m.start('r2', { relays: [...relays] });
  const b1 = await m.start('b1', { relays: [...relays] });
  const a1 = await m.start('a1', { relays: [...relays], forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('b1');
  for (const n of [a1, b1]) {
    await until(
      `${n.name} to learn its NAT mapping`,
      async () => {
        const s = (await n.status()) as unknown as { nat: { mapping: string } };
        return s.nat.mapping === mapping ? true : undefined;
      },
      20_000,
    );
  }
  return { m, a1, b1 };
}

/** `direct` when a1 holds any direct connection to b1, else `relayed` (or undefined: none). */
const b1Route = async (a1: MeshProc) => {
  const routes = (await a1.status()).peers.filter((p) => p.node === 'b1').map((p) => p.route);
  return routes.includes('direct') ? 'direct' : routes[0];
};

test('hole punching through endpoint-independent NATs: the relayed connection becomes direct', async (t) => {
  const { m, a1, b1 } = await setup(t, 'endpoint-independent');
  const first = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(first.identical, true, JSON.stringify(first));
  await until('a1 to reach b1 directly', async () => ((await b1Route(a1)) === 'direct' ? true : undefined), 20_000);
  const punched = [...a1.logs(), ...b1.logs()].filter((l) => l.msg.startsWith('hole punch succeeded'));
  assert.ok(punched.length >= 1, 'a hole punch succeeded');

  const second = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(second.identical, true, JSON.stringify(second));
  const last = a1
    .logs()
    .filter((l) => l.msg === 'tunnel opened')
    .at(-1);
  const route = (last?.route ?? {}) as { kind?: string; addr?: string };
  assert.equal(route.kind, 'direct');
  // Direct through B's NAT (its public address), not a LAN path: there is none.
  assert.match(route.addr ?? '', /^\/ip4\/198\.18\.0\.2\/tcp\//);
});

test('hole punching through symmetric NATs is not possible: the relay keeps working and the log says why', async (t) => {
  const { m, a1, b1 } = await setup(t, 'symmetric');
  const res = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(res.identical, true, JSON.stringify(res));
  const why = await until(
    'the reason in a log',
    () => [...a1.logs(), ...b1.logs()].find((l) => l.msg === 'hole punching not possible; staying on the relay'),
    15_000,
  );
  assert.equal(why.reason, 'symmetric NAT');
  assert.equal(await b1Route(a1), 'relayed');
  const again = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(again.identical, true, JSON.stringify(again));
  assert.deepEqual(
    a1
      .logs()
      .filter((l) => l.msg === 'tunnel opened')
      .map((l) => (l.route as { kind: string }).kind),
    ['relayed', 'relayed'],
  );
});
