/**
 * Runtime change without restarts: R3 is added to the relay list of running agents (and becomes
 * a relay itself by reading the same change); R1 and R2 are then killed and traffic uses R3.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMeshLab, ECHO_PORT, until } from './harness.ts';

const FWD = 17000;

test('runtime change: R3 added to the config of running agents; with R1 and R2 killed, traffic uses R3', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'r2', 'r3', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const before = ['r1', 'r2'] as const;
  const r1 = await m.start('r1', { relays: [...before] });
  const r2 = await m.start('r2', { relays: [...before] });
  const r3 = await m.start('r3', { relays: [...before] });
  const b1 = await m.start('b1', { relays: [...before] });
  const a1 = await m.start('a1', { relays: [...before], forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('b1');
  assert.equal((await r3.status()).relay, false);
  const first = await m.transfer('a1', FWD, 256 << 10).done;
  assert.equal(first.identical, true, JSON.stringify(first));

  // The ConfigMap changes: every agent sees R3 in relayNodes. Nobody restarts.
  const after = ['r1', 'r2', 'r3'] as const;
  for (const p of [r1, r2, r3, a1, b1]) p.writeConfig(m.config([...after]));
  await r3.waitLog((l) => l.msg === 'this node is now a relay');
  for (const p of [a1, b1]) {
    await until(
      `${p.name} to hold a reservation on r3`,
      async () => {
        const s = await p.status();
        return s.relays.some((r) => r.name === 'r3' && r.connected && r.verified) ? true : undefined;
      },
      15_000,
    );
  }

  r1.proc.signal('SIGKILL');
  r2.proc.signal('SIGKILL');
  for (const p of [a1, b1]) {
    await until(
      `${p.name} to reserve on r3`,
      async () => {
        const s = await p.status();
        return s.relays.find((r) => r.name === 'r3')?.reserved ? true : undefined;
      },
      10_000,
    );
  }
  const res = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(res.identical, true, JSON.stringify(res));
  const last = a1
    .logs()
    .filter((l) => l.msg === 'tunnel opened')
    .at(-1);
  assert.equal((last?.route as { relay?: string } | undefined)?.relay, 'r3');
  assert.ok(a1.proc.running() && b1.proc.running() && r3.proc.running(), 'no agent restarted');
});
