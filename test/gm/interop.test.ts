import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { ensureBinaries } from '../envtest/build.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica, watchHolder } from './replicas.ts';

const env = useEnvtest();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real client-go participant (tools/leaderelection) on the same Lease, 2 s / 1.5 s / 0.5 s. */
async function startClientGo(namespace: string, id: string) {
  const bin = await ensureBinaries();
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'SIGKILL',
      '--',
      bin.leaderElect,
      `--kubeconfig=${env.plane.kubeconfigPath}`,
      `--namespace=${namespace}`,
      '--name=gm',
      `--id=${id}`,
      '--lease-duration=2s',
      '--renew-deadline=1500ms',
      '--retry-period=500ms',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const events: Array<{ event: string; id: string; at: number }> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    const e = JSON.parse(l) as { event: string; id: string };
    events.push({ ...e, at: performance.now() });
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    id,
    events,
    leading: () =>
      events.filter((e) => e.event === 'started').length > events.filter((e) => e.event === 'stopped').length,
    signal: (s: NodeJS.Signals) => child.kill(s),
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

test('fedmesh replicas and a client-go participant share one Lease safely, in both directions', async (t) => {
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);

  // client-go leads first; a fedmesh replica joins and stays standby.
  const cg = await startClientGo(namespace, 'client-go-1');
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
  const cg2 = await startClientGo(namespace, 'client-go-2');
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
  assert.equal(await f2.readyz(), 200);
});
