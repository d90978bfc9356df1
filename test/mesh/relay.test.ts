/**
 * Cross-LAN tunnels through relays: the nearer relay is used, and a long transfer survives the
 * death of its relay byte for byte while new tunnels go through the other relay within 2 s.
 * The LANs sit behind symmetric NATs, so no hole punch takes the traffic off the relays.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMeshLab, ECHO_PORT, type MeshLab, type MeshProc, until } from './harness.ts';

const FWD = 17000;

/**
 * r1, r2 relays (configured in that order; `farther` is delayed by `ms`), a1 and b1 behind their
 * NATs, echo on b1, a forward on a1.
 */
async function setup(t: import('node:test').TestContext, farther?: { relay: 'r1' | 'r2'; ms: number }) {
  const m: MeshLab = await createMeshLab({ nodes: ['r1', 'r2', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  if (farther) await m.host(farther.relay).shape('pub', { delayMs: farther.ms });
  const relays = ['r1', 'r2'] as const;
  const r1 = await m.start('r1', { relays: [...relays] });
  const r2 = await m.start('r2', { relays: [...relays] });
  const b1 = await m.start('b1', { relays: [...relays] });
  const a1 = await m.start('a1', { relays: [...relays], forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('b1');
  // Both edge nodes hold reservations on both relays and have measured them.
  for (const n of [a1, b1]) {
    await until(
      `${n.name} reserved on r1 and r2`,
      async () => {
        const s = await n.status();
        const ok = s.relays.filter((r) => r.reserved && r.rttMs !== undefined).length === 2;
        return ok ? s : undefined;
      },
      20_000,
    );
  }
  return { m, r1, r2, a1, b1 };
}

const openedVia = (p: MeshProc) =>
  p
    .logs()
    .filter((l) => l.msg === 'tunnel opened')
    .map((l) => (l.route as { relay?: string; kind: string }).relay ?? 'direct');

test('cross-LAN: A1 reaches B1 through a relay, and the nearer relay (by measured RTT) is used', async (t) => {
  // The nearer relay is the second one configured (and named, and started), so only ordering by
  // RTT picks it.
  const { m, a1 } = await setup(t, { relay: 'r1', ms: 40 });
  const s = await a1.status();
  const rtt = Object.fromEntries(s.relays.map((r) => [r.name, r.rttMs ?? Number.NaN]));
  assert.ok((rtt.r1 as number) > (rtt.r2 as number) + 20, `r1 is farther: ${JSON.stringify(rtt)}`);
  const res = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(res.identical, true, JSON.stringify(res));
  assert.deepEqual(openedVia(a1), ['r2']);
});

test('relay failover: a long transfer through one relay completes byte for byte through the other; new tunnels work within 2 s', async (t) => {
  const { m, r1, r2, a1 } = await setup(t);
  const long = m.transfer('a1', FWD, 24 << 20, 4 << 20);
  await until('the transfer to be under way', () => (long.progress() >= 2 << 20 ? true : undefined), 20_000);
  const before = await a1.status();
  const used = before.tunnels[0]?.route?.relay;
  assert.ok(used === 'r1' || used === 'r2', `tunnel runs through a relay: ${JSON.stringify(before.tunnels)}`);
  const other = used === 'r1' ? 'r2' : 'r1';

  (used === 'r1' ? r1 : r2).proc.signal('SIGKILL');
  const killedAt = Date.now();
  // A new tunnel, opened right after the kill, goes through the other relay.
  const fresh = await m.transfer('a1', FWD, 64 << 10).done;
  const freshMs = Date.now() - killedAt;
  assert.equal(fresh.identical, true, JSON.stringify(fresh));
  assert.ok(freshMs < 2_000, `new tunnel completed ${freshMs} ms after the kill`);

  const res = await long.done;
  assert.equal(res.identical, true, JSON.stringify(res));
  assert.equal(res.received, 24 << 20);
  const resumed = a1.logs().find((l) => l.msg === 'tunnel resumed');
  assert.ok(resumed, 'the long tunnel resumed on a new path');
  assert.equal((resumed.route as { relay?: string }).relay, other);
  assert.ok((resumed.afterMs as number) < 2_000, `resumed after ${resumed.afterMs} ms`);
  assert.deepEqual(openedVia(a1), [used, other]);
});
