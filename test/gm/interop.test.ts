import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startClientGo } from './clientgo.ts';
import { startReplica, watchHolder } from './replicas.ts';

const env = useEnvtest();

test('fedmesh replicas and a client-go participant share one Lease safely, in both directions', async (t) => {
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);

  // client-go leads first; a fedmesh replica joins and stays standby.
  const cg = await startClientGo(env.plane, { namespace, id: 'client-go-1' });
  t.after(() => cg.stop());
  const a = await holder.until((h) => h === 'client-go-1', 15_000);
  const f1 = await startReplica(env.plane, { id: 'fedmesh-1', namespace });
  t.after(() => f1.proc.stop('SIGKILL'));
  for (let i = 0; i < 10; i++) {
    assert.equal(await f1.readyz(), 503, 'fedmesh stays standby under a client-go leader');
    await sleep(100);
  }

  // client-go releases on SIGTERM; fedmesh sees the release on its watch and takes over at once.
  const t1 = performance.now();
  cg.signal('SIGTERM');
  const b = await holder.until((h) => h === 'fedmesh-1', 5000, t1);
  assert.ok(b.at - t1 <= 1000, `fedmesh took a client-go release in ${(b.at - t1).toFixed(0)} ms`);
  assert.equal(b.transitions, a.transitions + 1);
  await cg.exited;

  // A new client-go participant stays follower while fedmesh renews...
  const cg2 = await startClientGo(env.plane, { namespace, id: 'client-go-2' });
  t.after(() => cg2.stop());
  await sleep(2500);
  assert.equal(cg2.leading(), false, 'client-go does not take a lease fedmesh renews');
  assert.equal(holder.current(), 'fedmesh-1');

  // ...and takes it when fedmesh releases on SIGTERM (at its next jittered poll).
  const t2 = performance.now();
  f1.proc.signal('SIGTERM');
  const c = await holder.until((h) => h === 'client-go-2', 5000, t2);
  assert.equal(c.transitions, b.transitions + 1);
  await sleep(200);
  assert.equal(cg2.leading(), true);

  // A crashed client-go leader is replaced by a fedmesh standby once the lease expires.
  const f2 = await startReplica(env.plane, { id: 'fedmesh-2', namespace });
  t.after(() => f2.proc.stop('SIGKILL'));
  await sleep(500);
  const t3 = performance.now();
  cg2.signal('SIGKILL');
  const d = await holder.until((h) => h === 'fedmesh-2', 10_000, t3);
  assert.ok(d.at - t3 <= 2500, `fedmesh replaced a crashed client-go leader in ${(d.at - t3).toFixed(0)} ms`);
  assert.equal(d.transitions, c.transitions + 1);
  // The Lease update reaches our watch about when it reaches f2 as its write's response: give f2 a
  // moment to act on its own success before asking.
  let ready = 0;
  for (const until = performance.now() + 1000; ready !== 200 && performance.now() < until; await sleep(50)) {
    ready = await f2.readyz();
  }
  assert.equal(ready, 200, 'the new fedmesh leader is ready within 1 s of acquiring');
});
