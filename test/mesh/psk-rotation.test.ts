/**
 * PSK rotation without downtime, with real `fedmesh mesh` processes: a relayed tunnel carries a
 * long transfer while each node's PSK file (its mounted Secret) gets the new key first and the
 * old one second, one node after the other; nobody restarts. When the rotation window ends the
 * connections still on the old key are closed and the tunnel resumes on new-key connections; the
 * transfer arrives byte for byte.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generatePsk } from '../../mesh/pnet/psk.ts';
import { createMeshLab, ECHO_PORT, type NodeName } from './harness.ts';

const FWD = 17000;
const WINDOW = '4s';

test('PSK rotation: a live relayed tunnel keeps going while the key rolls on every node, byte for byte', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const oldKey = readFileSync(m.pskFile, 'utf8').trim().split('\n')[2] as string;
  const newKey = generatePsk().trim().split('\n')[2] as string;
  const names: NodeName[] = ['r1', 'b1', 'a1'];
  const pskOf = (n: NodeName) => join(m.dir, `psk-${n}`);
  const write = (n: NodeName, keys: string[]) =>
    writeFileSync(pskOf(n), `/key/swarm/psk/1.0.0/\n/base16/\n${keys.join('\n')}\n`, { mode: 0o600 });
  for (const n of names) write(n, [oldKey]);
  const cfg = (n: NodeName) => m.config(['r1'], { pskFile: pskOf(n), pskRotationWindow: WINDOW });
  const r1 = await m.start('r1', { config: cfg('r1') });
  const b1 = await m.start('b1', { config: cfg('b1') });
  const a1 = await m.start('a1', { config: cfg('a1'), forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  const procs = [r1, b1, a1];
  await m.echo('b1');
  const warm = await m.transfer('a1', FWD, 64 << 10).done;
  assert.equal(warm.identical, true, JSON.stringify(warm));

  // ~16 s of traffic at 1 MiB/s, through r1 (symmetric NATs: no hole punching).
  const transfer = m.transfer('a1', FWD, 16 << 20, 1 << 20);
  await sleep(2_000);
  const before = (await a1.status()) as unknown as { psk: { current: string; previous: unknown[] } };
  assert.equal(before.psk.previous.length, 0);
  for (const p of procs) {
    write(p.name, [newKey, oldKey]); // the Secret's new content reaches this node
    await p.waitLog((l) => l.msg === 'PSK keys changed', 5_000);
    await sleep(1_000);
  }
  // /status shows the roll: the new key in use, the old one accepted until the window ends.
  const during = (await a1.status()) as unknown as { psk: { current: string; previous: Array<{ id: string }> } };
  assert.notEqual(during.psk.current, before.psk.current);
  assert.deepEqual(
    during.psk.previous.map((p) => p.id),
    [before.psk.current],
  );
  // Each node's window ends 4 s after it loaded the new file; connections on the old key are closed.
  for (const p of procs) await p.waitLog((l) => l.msg === 'PSK rotation window ended', 10_000);
  const closed = procs.flatMap((p) => p.logs().filter((l) => l.msg === 'closing connections on a retired PSK'));
  assert.ok(closed.length > 0, 'connections on the old key were closed at the end of the window');

  const res = await transfer.done;
  assert.equal(res.identical, true, JSON.stringify(res));
  assert.ok(
    b1.logs().some((l) => l.msg === 'tunnel resumed by peer'),
    'the tunnel resumed on a new-key connection',
  );
  // After the roll: new tunnels work, on the new key only; nobody restarted.
  const after = await m.transfer('a1', FWD, 1 << 20).done;
  assert.equal(after.identical, true, JSON.stringify(after));
  for (const p of procs) {
    assert.ok(p.proc.running(), `${p.name} still runs`);
    assert.equal(p.logs().filter((l) => l.msg === 'mesh node started').length, 1, `${p.name} never restarted`);
  }
});
