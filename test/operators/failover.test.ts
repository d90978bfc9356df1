import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import { installCrds } from '../../crds/index.ts';
import type { KubeObject } from '../../gm/operators/resources.ts';
import { useEnvtest } from '../envtest/index.ts';
import { type Replica, startReplica } from '../gm/replicas.ts';
import { create, example, list, RESOURCES, until } from './harness.ts';
import { recordWrites } from './recorder.ts';

const env = useEnvtest({ controllers: ['garbagecollector'], beforeControllers: (kc) => installCrds(kc) });
const LEASE = 'gm';

async function metric(r: Replica, name: string): Promise<string | undefined> {
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${r.port}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    return text
      .split('\n')
      .find((l) => l.startsWith(`${name} `))
      ?.split(' ')[1];
  } catch {
    return undefined;
  }
}

async function replicas(ns: string, t: import('node:test').TestContext, ids: string[]): Promise<Replica[]> {
  const out = await Promise.all(
    ids.map((id) => startReplica(env.plane, { id, namespace: ns, leaseName: LEASE, args: ['--watch-namespace', ns] })),
  );
  t.after(async () => {
    await Promise.all(out.map((r) => r.proc.stop('SIGKILL')));
  });
  return out;
}

const jis = (i: number): KubeObject => {
  const o = example('JointInferenceService/helmet-detection-inference-example');
  o.metadata.name = `jis-${String(i).padStart(3, '0')}`;
  return o;
};

async function createModels(rest: Parameters<typeof create>[0], ns: string) {
  await create(rest, ns, example('Model/helmet-detection-inference-big-model'));
  await create(rest, ns, example('Model/helmet-detection-inference-little-model'));
}

/** Every JointInferenceService Running, with exactly its two Deployments and one Service, each owned once. */
async function assertConverged(rest: Parameters<typeof create>[0], ns: string, n: number) {
  const [services, deployments, all] = await Promise.all([
    list(rest, RESOURCES.Service, ns),
    list(rest, RESOURCES.Deployment, ns),
    list(rest, RESOURCES.JointInferenceService, ns),
  ]);
  assert.equal(all.length, n);
  assert.equal(deployments.length, 2 * n, 'exactly two Deployments per service');
  assert.equal(services.length, n, 'exactly one Service per service');
  const uid = new Map(all.map((j) => [j.metadata.name, j.metadata.uid]));
  for (const j of all) {
    assert.equal(j.status?.conditions?.at(-1)?.type, 'Running', j.metadata.name);
    assert.equal(j.status?.active, 2);
  }
  const expected = [...uid.keys()].flatMap((name) => [`${name}-deployment-cloud`, `${name}-deployment-edge`]).sort();
  assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), expected);
  for (const o of [...deployments, ...services]) {
    const refs = o.metadata.ownerReferences ?? [];
    assert.equal(refs.length, 1, `${o.metadata.name}: one owner`);
    const owner = o.metadata.name.replace(/-(deployment-cloud|deployment-edge|cloud)$/, '');
    assert.equal(refs[0]?.uid, uid.get(owner), `${o.metadata.name} owned by ${owner}`);
    assert.equal(refs[0]?.controller, true);
  }
}

test('operators run in a GM replica only while it leads', async (t) => {
  const ns = await env.namespace(t);
  const rest = await (await import('../../common/kube/rest.ts')).createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  const [a, b] = await replicas(ns, t, ['gm-a', 'gm-b']);
  const synced = async (r: Replica) => (await metric(r, 'fedmesh_gm_operator_caches_synced')) === '1';
  const leader = await until('a leader with synced operators', 30_000, async () =>
    (await synced(a as Replica)) ? a : (await synced(b as Replica)) ? b : undefined,
  );
  const standby = (leader === a ? b : a) as Replica;
  assert.equal(
    await metric(standby, 'fedmesh_gm_operator_caches_synced'),
    undefined,
    'no operator term on the standby',
  );
  assert.equal(await metric(standby, 'fedmesh_gm_is_leader'), '0');

  await createModels(rest, ns);
  await create(rest, ns, jis(0));
  await until('children', 20_000, async () => (await list(rest, RESOURCES.Deployment, ns)).length === 2);
  for (const d of await list(rest, RESOURCES.Deployment, ns)) {
    assert.equal(d.metadata.annotations?.['fedmesh.io/written-by'], `${leader.id}/1`, 'written by the leader');
  }
});

for (const how of ['SIGKILL', 'SIGSTOP'] as const) {
  test(`${how} the leader while 100 JointInferenceServices are created: the new leader finishes, nothing twice, no stale write`, async (t) => {
    const N = 100;
    const ns = await env.namespace(t);
    const rest = await (await import('../../common/kube/rest.ts')).createKubeRest(env.kubeConfig());
    t.after(() => rest.close());
    const ac = new AbortController();
    t.after(() => ac.abort());
    const rec = await recordWrites(env.kubeConfig(), ns, LEASE, ac.signal);
    const all = await replicas(ns, t, ['gm-a', 'gm-b']);
    const first = await until('a leader', 30_000, () => rec.holders.find((h) => h.holder !== ''));
    const old = all.find((r) => r.id === first.holder) as Replica;
    const next = all.find((r) => r !== old) as Replica;
    await until(
      'operators synced on the leader',
      20_000,
      async () => (await metric(old, 'fedmesh_gm_operator_caches_synced')) === '1',
    );

    await createModels(rest, ns);
    let created = 0;
    const creating = (async () => {
      for (let i = 0; i < N; i += 5) {
        await Promise.all([0, 1, 2, 3, 4].map((k) => create(rest, ns, jis(i + k))));
        created += 5;
      }
    })();
    // Strike once the old leader is visibly at work.
    await until(
      'old leader writing',
      20_000,
      () => rec.writes.some((w) => w.writer === `${old.id}/1`) && created >= 30,
    );
    old.proc.signal(how);
    const killedAt = performance.now();
    await creating;

    const takeover = await until('new leader', 30_000, () => rec.acquiredAt(next.id, first.rv));
    await until('converged', 60_000, async () => {
      try {
        await assertConverged(rest, ns, N);
        return true;
      } catch {
        return false;
      }
    });
    const convergedS = (performance.now() - killedAt) / 1000;
    await assertConverged(rest, ns, N);

    if (how === 'SIGSTOP') {
      // The paused leader wakes up long after its lease expired: its guard must refuse every write.
      old.proc.signal('SIGCONT');
      await sleep(3000);
    }
    const stale = rec.writes.filter((w) => w.writer.startsWith(`${old.id}/`) && w.rv > takeover);
    assert.deepEqual(stale, [], 'no write from the old leader after the new one acquired the lease');
    const byOld = rec.writes.filter((w) => w.writer.startsWith(`${old.id}/`)).length;
    const byNew = rec.writes.filter((w) => w.writer.startsWith(`${next.id}/`)).length;
    assert.ok(byOld > 0 && byNew > 0, `both leaders wrote (old ${byOld}, new ${byNew})`);
    t.diagnostic(`converged ${convergedS.toFixed(1)} s after ${how}; writes old ${byOld}, new ${byNew}`);
  });
}
