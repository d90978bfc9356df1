/**
 * Node health through real `fedmesh mesh` processes (issue 19, node side): four nodes on one LAN
 * probe each other every 500 ms and exchange signed views on `/fedmesh/health/1.0.0`. All see all
 * healthy; when one host's link is cut, the three others' tallies mark it unhealthy and the cut
 * node sees none of them healthy; once the link is back, all are healthy again. Then an impostor
 * (a process claiming another node's name, with its own key) changes nothing, and a new period
 * in the config file is applied without a restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthStatus } from '../../mesh/health/agent.ts';
import { createMeshLab, ECHO_PORT, MESH_PORT, type MeshProc, type NodeName, STATUS_PORT, until } from './harness.ts';

const NODES: NodeName[] = ['r1', 'r2', 'r3', 'c'];
const CUT: NodeName = 'c';
/** Host of a process that claims to be r2 (not in NODES: it must change nothing). */
const IMPOSTOR: NodeName = 'b1';
const FWD = 17000;
const HEALTH = { period: '500ms', timeout: '250ms', window: '1500ms', failureThreshold: 3 };

const health = async (p: MeshProc) => ((await p.status()) as unknown as { health?: HealthStatus }).health;
const outcomes = async (p: MeshProc) =>
  Object.fromEntries(((await health(p))?.nodes ?? []).map((n) => [n.node, n.outcome]));

/** Waits until every process in `from` judges every node per `want(node)`. */
async function allJudge(procs: MeshProc[], want: (node: string) => string[], what: string, timeoutMs: number) {
  let seen: Record<string, Record<string, string>> = {};
  return until(
    what,
    async () => {
      seen = {};
      for (const p of procs) seen[p.name] = await outcomes(p).catch(() => ({}));
      const ok = procs.every((p) =>
        NODES.every((n) => want(n).includes((seen[p.name] as Record<string, string>)[n] ?? 'absent')),
      );
      return ok ? seen : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    // The last tallies say which judgement was missing.
    throw new Error(`${err.message}; last seen: ${JSON.stringify(seen)}`, { cause: err });
  });
}

test('health: four nodes see each other healthy; a cut node is judged unhealthy by the others, and healthy once back', async (t) => {
  const m = await createMeshLab({ nodes: [...NODES, IMPOSTOR], flat: true });
  t.after(() => m.destroy());
  const procs: MeshProc[] = [];
  // Flat hosts have no default route, so no multicast (mDNS): each node bootstraps from the others.
  const bootstrap = (self: NodeName) => NODES.filter((n) => n !== self).map((n) => `${m.addr(n)}:${MESH_PORT}`);
  for (const n of NODES) {
    procs.push(await m.start(n, { config: m.config([], { health: HEALTH, dhtBootstrap: bootstrap(n) }) }));
  }
  const cut = procs.find((p) => p.name === CUT) as MeshProc;
  const others = procs.filter((p) => p !== cut);

  await allJudge(procs, () => ['healthy'], 'every node to see all four healthy', 60_000);
  const st = await health(cut);
  assert.equal(st?.zone, '*');
  // On one LAN every member answers both probes: the mesh ping and the direct TCP dial.
  for (const n of st?.nodes ?? []) if (!n.self) assert.deepEqual(n.paths, { mesh: true, direct: true }, n.node);
  assert.ok((st?.epoch ?? 0) >= 1);

  await m.host(CUT).cutLink('pub');
  const t0 = Date.now();
  await allJudge(
    others,
    (n) => (n === CUT ? ['unhealthy'] : ['healthy']),
    'the others to judge the cut node unhealthy',
    30_000,
  );
  t.diagnostic(`cut node judged unhealthy by all others after ${Date.now() - t0} ms`);
  await allJudge(
    [cut],
    (n) => (n === CUT ? ['unknown', 'unhealthy', 'healthy'] : ['unknown', 'unhealthy']),
    'the cut node to see none of the others healthy',
    30_000,
  );

  await m.host(CUT).restoreLink('pub');
  const t1 = Date.now();
  await allJudge(procs, () => ['healthy'], 'all four healthy again after the link is restored', 90_000);
  t.diagnostic(`all healthy again ${Date.now() - t1} ms after the restore`);

  // Every view received was accepted: no forged, replayed or malformed view on an honest mesh.
  for (const p of procs) {
    const rejected = p.logs().filter((l) => l.msg === 'health view rejected');
    assert.deepEqual(rejected, [], `${p.name} rejected views: ${JSON.stringify(rejected)}`);
  }

  // An impostor: a fifth process calling itself r2, with its own key. Its views name r2 as the
  // voter but are signed by a key other than the one pinned for r2: refused and counted, and the
  // tallies stay as they were.
  await m.start(IMPOSTOR, {
    config: m.config([], { health: HEALTH, dhtBootstrap: bootstrap(IMPOSTOR) }),
    args: ['--node', 'r2'],
  });
  const r1 = procs[0] as MeshProc;
  await until(
    'r1 to refuse views signed by the impostor',
    async () => ((await metric(r1, 'ERR_VIEW_KEY_MISMATCH')) > 0 ? true : undefined),
    30_000,
  );
  await allJudge(procs, () => ['healthy'], 'the tallies unchanged by the impostor', 10_000);
  for (const p of procs) assert.equal((await health(p))?.nodes.length, NODES.length, `${p.name}'s zone`);

  // Hot reload: a new period in the config file takes effect without a restart.
  r1.writeConfig(m.config([], { health: { ...HEALTH, period: '700ms' }, dhtBootstrap: bootstrap('r1') }));
  await until(
    'r1 to apply the new period',
    async () => ((await health(r1))?.periodMs === 700 ? true : undefined),
    10_000,
  );
});

/** `fedmesh_mesh_health_views_total{result}` of a node, from its /metrics. */
async function metric(p: MeshProc, result: string): Promise<number> {
  const r = await p.host.exec('curl', ['-fsS', '-m', '2', `http://127.0.0.1:${STATUS_PORT}/metrics`]);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`fedmesh_mesh_health_views_total{result="${result}"}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

test('health: probes and views take the relay where no direct path exists (symmetric NATs)', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const cfg = m.config(['r1'], { health: HEALTH });
  const r1 = await m.start('r1', { config: cfg });
  const b1 = await m.start('b1', { config: cfg });
  const a1 = await m.start('a1', { config: cfg, forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  // a1 and b1 learn of each other when a1 first tunnels to b1 (lookup through the relay).
  await m.echo('b1');
  const res = await m.transfer('a1', FWD, 1 << 10).done;
  assert.equal(res.identical, true, JSON.stringify(res));
  const all = ['r1', 'a1', 'b1'];
  await until(
    'all three to see all three healthy',
    async () => {
      for (const p of [r1, a1, b1]) {
        const o = await outcomes(p);
        if (!all.every((n) => o[n] === 'healthy')) return undefined;
      }
      return true;
    },
    60_000,
  );
  const routes = (await a1.status()).peers.filter((p) => p.node === 'b1').map((p) => p.route);
  assert.deepEqual([...new Set(routes)], ['relayed']);
  // No direct path: the direct dial fails (or b1 has no address a1 could dial), the mesh ping through the relay answers.
  const b1Seen = (await health(a1))?.nodes.find((n) => n.node === 'b1');
  assert.equal(b1Seen?.paths?.mesh, true);
  assert.notEqual(b1Seen?.paths?.direct, true);
});
