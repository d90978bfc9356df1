import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { createKubeRest } from '../../common/kube/rest.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica, watchHolder } from './replicas.ts';

const env = useEnvtest();
// Timing under test: lease 2 s, renew deadline 1.5 s, retry 0.5 s.
const LEASE_MS = 2000;
const RENEW_MS = 1500;
const RETRY_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readyLeaders(replicas: Array<{ id: string; readyz(): Promise<number> }>): Promise<string[]> {
  const codes = await Promise.all(replicas.map(async (r) => [r.id, await r.readyz()] as const));
  return codes.filter(([, c]) => c === 200).map(([id]) => id);
}

test('three replicas: one leader; kill -9 → new leader within lease + retry; SIGTERM → within 1 s', async (t) => {
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);
  const replicas = await Promise.all(['a', 'b', 'c'].map((id) => startReplica(env.plane, { id, namespace })));
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));

  const first = await holder.until((h) => h !== '', 10_000);
  await sleep(RETRY_MS * 2);
  assert.deepEqual(await readyLeaders(replicas), [first.holder], 'exactly the holder is ready');
  // Its Event is posted after the acquire, asynchronously: a leader killed before that posts none.
  const core = env.kubeConfig().makeApiClient(CoreV1Api);
  const leaderEvents = async () =>
    (await core.listNamespacedEvent({ namespace })).items
      .filter((e) => e.reason === 'LeaderElection')
      .map((e) => e.message);
  for (let i = 0; i < 50 && !(await leaderEvents()).includes(`${first.holder} became leader`); i++) await sleep(100);

  // Crash: no release; the others must wait out the lease, then take over.
  const crashed = replicas.find((r) => r.id === first.holder)!;
  const t0 = performance.now();
  crashed.proc.signal('SIGKILL');
  const second = await holder.until((h) => h !== '' && h !== crashed.id, 10_000, t0);
  const crashFailover = second.at - t0;
  assert.ok(crashFailover <= LEASE_MS + RETRY_MS, `crash failover took ${crashFailover.toFixed(0)} ms`);
  assert.equal(second.transitions, first.transitions + 1);
  await sleep(RETRY_MS);
  const alive = replicas.filter((r) => r !== crashed);
  assert.deepEqual(await readyLeaders(alive), [second.holder]);

  // Graceful: SIGTERM releases the lease; a standby sees it on its watch and takes it at once.
  const leaving = alive.find((r) => r.id === second.holder)!;
  const t1 = performance.now();
  leaving.proc.signal('SIGTERM');
  const third = await holder.until((h) => h !== '' && h !== leaving.id, 5000, t1);
  const handoff = third.at - t1;
  assert.ok(
    handoff <= 1000,
    `graceful handoff took ${handoff.toFixed(0)} ms; holders seen: ${JSON.stringify(holder.seen.map((x) => [x.holder, Math.round(x.at - t1)]))}`,
  );
  assert.equal(await leaving.proc.exited, 0, 'a SIGTERMed replica exits 0');

  // Every leadership change left an Event on the Lease.
  const wanted = [first.holder, second.holder, third.holder].map((id) => `${id} became leader`);
  let messages = await leaderEvents();
  for (let i = 0; i < 50 && !wanted.every((w) => messages.includes(w)); i++) {
    await sleep(100);
    messages = await leaderEvents();
  }
  for (const id of [first.holder, second.holder, third.holder]) {
    assert.ok(messages.includes(`${id} became leader`), `event for ${id}: ${JSON.stringify(messages)}`);
  }
  assert.ok(messages.some((m) => m?.startsWith(`${second.holder} stopped leading`)));
});

/** Attempts (acquire or renew, either result) the replica has made, from its /metrics. */
async function attempts(r: { port: number }): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.port}/metrics`, { signal: AbortSignal.timeout(2000) });
  const body = await res.text();
  let n = 0;
  for (const m of body.matchAll(/^fedmesh_gm_lease_renew_duration_seconds_count\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

test('SIGTERM: a standby takes the released lease in under half a 5 s retry period, which only its Lease watch explains', async (t) => {
  // Slow polls: a standby that only polled would wait retry × (1 + rand × 1.2) ≥ 5 s after its
  // last look at the Lease. The leader is stopped right after both standbys' first look, so any
  // handoff under 2.5 s is the watch seeing the release.
  const timing = { leaseDuration: '10s', renewDeadline: '7s', retryPeriod: '5s' };
  const SLOW_RETRY_MS = 5000;
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);
  const leader = await startReplica(env.plane, { id: 'a', namespace, ...timing });
  t.after(() => leader.proc.stop('SIGKILL'));
  await holder.until((h) => h === 'a', 15_000);
  const standbys = await Promise.all(['b', 'c'].map((id) => startReplica(env.plane, { id, namespace, ...timing })));
  t.after(() => Promise.all(standbys.map((r) => r.proc.stop('SIGKILL'))));
  const looked = performance.now();
  for (;;) {
    const counts = await Promise.all(standbys.map(attempts));
    if (counts.every((n) => n >= 1)) break;
    assert.ok(performance.now() - looked < 15_000, `standbys looked at the Lease: ${counts}`);
    await sleep(20);
  }
  assert.equal(holder.current(), 'a', 'the standbys found the lease held');

  const t0 = performance.now();
  leader.proc.signal('SIGTERM');
  const next = await holder.until((h) => h === 'b' || h === 'c', 20_000, t0);
  const handoff = next.at - t0;
  assert.ok(
    handoff < SLOW_RETRY_MS / 2,
    `graceful handoff took ${handoff.toFixed(0)} ms (bound ${SLOW_RETRY_MS / 2} ms); holders seen: ${JSON.stringify(holder.seen.map((x) => [x.holder, Math.round(x.at - t0)]))}`,
  );
  assert.equal(await leader.proc.exited, 0, 'a SIGTERMed replica exits 0');
});

test('API server lost: the leader fences by the renew deadline, nobody leads meanwhile, one leader after', async (t) => {
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);
  const replicas = await Promise.all(['a', 'b', 'c'].map((id) => startReplica(env.plane, { id, namespace })));
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  t.after(() => env.plane.startApiServer());
  const first = await holder.until((h) => h !== '', 10_000);
  await sleep(RETRY_MS * 2);
  const leader = replicas.find((r) => r.id === first.holder)!;
  assert.equal(await leader.readyz(), 200);

  const t0 = performance.now();
  await env.plane.stopApiServer('SIGKILL');
  let fencedAt: number | undefined;
  const leadersDuringOutage: string[] = [];
  while (performance.now() - t0 < LEASE_MS * 2 + 1000) {
    const ready = await readyLeaders(replicas);
    if (fencedAt === undefined && !ready.includes(leader.id)) fencedAt = performance.now() - t0;
    if (fencedAt !== undefined) leadersDuringOutage.push(...ready);
    await sleep(50);
  }
  assert.ok(fencedAt !== undefined, 'the leader fenced itself');
  // The last renew was at most one retry period before the outage began.
  assert.ok(fencedAt <= RENEW_MS + 250, `fenced after ${fencedAt?.toFixed(0)} ms`);
  assert.deepEqual(leadersDuringOutage, [], 'no replica acts as leader while the API is away');

  await env.plane.startApiServer();
  let leaders: string[] = [];
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    leaders = await readyLeaders(replicas);
    if (leaders.length === 1) break;
    await sleep(100);
  }
  assert.equal(leaders.length, 1, 'exactly one leader after the API returned');
  await sleep(RETRY_MS * 3);
  assert.equal((await readyLeaders(replicas)).length, 1);
});

test('a leader paused past its lease refuses writes after SIGCONT and steps down; never two writers', async (t) => {
  const namespace = await env.namespace(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);
  // Watch the probe ConfigMap: it records, from the API's side, who passed the guard and when.
  const rest = await createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  const writes: Array<{ holder: string; seq: number }> = [];
  void (async () => {
    try {
      for await (const ev of rest.watch<{ data?: { holder?: string; seq?: string } }>(
        `/api/v1/namespaces/${namespace}/configmaps`,
        { query: { fieldSelector: 'metadata.name=gm-fencing-probe' }, signal: ac.signal },
      )) {
        if (ev.object.data?.holder) writes.push({ holder: ev.object.data.holder, seq: Number(ev.object.data.seq) });
      }
    } catch {
      // Aborted at the end of the test.
    }
  })();
  const replicas = await Promise.all(
    ['a', 'b'].map((id) => startReplica(env.plane, { id, namespace, probe: '100ms' })),
  );
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  const first = await holder.until((h) => h !== '', 10_000);
  const paused = replicas.find((r) => r.id === first.holder)!;
  const other = replicas.find((r) => r !== paused)!;
  await sleep(500);
  assert.ok(
    writes.some((w) => w.holder === paused.id),
    'the first leader wrote through the guard',
  );

  paused.proc.signal('SIGSTOP');
  const t0 = performance.now();
  await holder.until((h) => h === other.id, 10_000, t0);
  await sleep(500);
  paused.proc.signal('SIGCONT');
  await sleep(1500);

  assert.equal(await paused.readyz(), 503, 'the resumed replica is not ready as leader');
  assert.equal(await other.readyz(), 200);
  const firstOther = writes.findIndex((w) => w.holder === other.id);
  assert.ok(firstOther >= 0, 'the new leader writes');
  const lateWrites = writes.slice(firstOther).filter((w) => w.holder === paused.id);
  assert.deepEqual(lateWrites, [], 'no write from the old leader after the new leader began');
});

test('readyz in replica mode: ready whenever the replica can serve LCs, leader or not; not when the API is gone', async (t) => {
  const namespace = await env.namespace(t);
  const replicas = await Promise.all(
    ['a', 'b'].map((id) => startReplica(env.plane, { id, namespace, readyz: 'replica' })),
  );
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  t.after(() => env.plane.startApiServer());
  const both = async () => (await Promise.all(replicas.map((r) => r.readyz()))).join(',');
  const until = async (want: string, ms: number) => {
    const deadline = performance.now() + ms;
    while ((await both()) !== want && performance.now() < deadline) await sleep(100);
    return both();
  };
  assert.equal(await until('200,200', 10_000), '200,200', 'leader and standby are both ready');
  await env.plane.stopApiServer('SIGKILL');
  // No API contact for a whole lease duration: not ready (its caches cannot be trusted).
  assert.equal(await until('503,503', LEASE_MS + 3000), '503,503');
  await env.plane.startApiServer();
  assert.equal(await until('200,200', 15_000), '200,200');
});
