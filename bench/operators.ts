/**
 * The GM operators at scale, with two GM replica processes against a real control plane:
 *   - jis_per_s: N JointInferenceServices exist; a leader starts: from its acquiring the Lease to all N
 *     Running with their 2N Deployments and N Services (time to steady state, CRs per second);
 *   - failover_steady_s: SIGKILL that leader: to the moment the new leader has synced its caches and
 *     reconciled all N services (finding nothing to write); split into takeover_s (Lease expiry,
 *     2 s here) and resync_s.
 * Baselines from the same run and client: baseline_jis_per_s — the same writes per service (its two
 * Deployments and its Service by server-side apply, then its status by merge patch) sent directly by
 * as many concurrent writers as the operators have workers, no operator involved; baseline_relist_s —
 * listing everything a new leader must read (N services, 2N Deployments, N Services).
 *   npm run bench -- operators [N=1000] [WORKERS=4]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { sleep } from '../common/async.ts';
import { createInformer, restListerWatcher } from '../common/kube/informer.ts';
import { createKubeRest, type KubeRest } from '../common/kube/rest.ts';
import { createLogger } from '../common/log.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { installCrds } from '../crds/index.ts';
import { exampleObject } from '../examples/index.ts';
import { FIELD_MANAGER } from '../gm/operators/constants.ts';
import { buildDeployment, buildService } from '../gm/operators/podspec.ts';
import {
  collectionPath,
  type KubeObject,
  objectPath,
  RESOURCES,
  type ResourceType,
} from '../gm/operators/resources.ts';
import { type Replica, startReplica, watchHolder } from '../test/gm/replicas.ts';
import { round } from './stats.ts';

const log = createLogger({
  component: 'bench',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
const progress = (m: string) => process.stderr.write(`${m}\n`);

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

const apply = (rest: KubeRest, r: ResourceType, o: KubeObject) =>
  rest.request('PATCH', objectPath(r, o.metadata.namespace ?? '', o.metadata.name), {
    body: o,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: FIELD_MANAGER, force: true },
  });

async function namespace(rest: KubeRest, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });
  await rest.request('POST', `/api/v1/namespaces/${name}/serviceaccounts`, { body: { metadata: { name: 'default' } } });
  return name;
}

const KIND = 'JointInferenceService';

async function createModels(rest: KubeRest, ns: string): Promise<void> {
  for (const id of ['Model/helmet-detection-inference-big-model', 'Model/helmet-detection-inference-little-model']) {
    const m = exampleObject(id) as unknown as KubeObject;
    m.metadata.namespace = ns;
    await rest.request('POST', collectionPath(RESOURCES.Model, ns), { body: m });
  }
}

/** Creates N JointInferenceServices with 8 concurrent clients; returns them as created. */
async function createAll(rest: KubeRest, ns: string, n: number): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  await pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) =>
      out.push(
        await rest.request<KubeObject>('POST', collectionPath(RESOURCES.JointInferenceService, ns), {
          body: jis(ns, i),
        }),
      ),
  );
  return out;
}

function jis(ns: string, i: number): KubeObject {
  const o = exampleObject('JointInferenceService/helmet-detection-inference-example') as unknown as KubeObject;
  o.metadata = { name: `jis-${String(i).padStart(4, '0')}`, namespace: ns };
  return o;
}

async function listAll(rest: KubeRest, r: ResourceType, ns: string): Promise<number> {
  let n = 0;
  let cont: string | undefined;
  do {
    const page = await rest.request<{ items: unknown[]; metadata: { continue?: string } }>(
      'GET',
      collectionPath(r, ns),
      {
        query: { limit: 500, continue: cont },
      },
    );
    n += page.items.length;
    cont = page.metadata.continue || undefined;
  } while (cont);
  return n;
}

async function metrics(r: Replica): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${r.port}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !line.trim()) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  } catch {
    // not answering (killed, starting): no figures
  }
  return out;
}

/** CPU seconds (user + system) a process used so far, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const sum = (m: Map<string, number>, prefix: string, ...must: string[]) =>
  [...m].filter(([k]) => k.startsWith(prefix) && must.every((s) => k.includes(s))).reduce((a, [, v]) => a + v, 0);

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const N = Number(args[0] ?? 1000);
  const workers = Number(args[1] ?? 4);
  const plane = await startControlPlane({ log: progress, serviceClusterIPRange: '10.96.0.0/16' });
  const rest = await createKubeRest(plane.kubeConfig());
  const replicas: Replica[] = [];
  const ac = new AbortController();
  try {
    await installCrds(plane.kubeConfig());

    // Baseline: the operators' writes for each service — its two Deployments and its Service
    // (server-side apply, together) then its status (merge patch at its resourceVersion) — sent
    // directly by as many concurrent writers as the operators have workers, with the same client.
    const baseNs = await namespace(rest, 'bench-base');
    await createModels(rest, baseNs);
    const baseJis = await createAll(rest, baseNs, N);
    let t0 = performance.now();
    await pool(baseJis, workers, async (owner) => {
      const env = { NAMESPACE: baseNs, SERVICE_NAME: owner.metadata.name };
      await Promise.all([
        apply(
          rest,
          RESOURCES.Deployment,
          buildDeployment(KIND, owner, owner.spec.cloudWorker.template, { workerType: 'Cloud', env }),
        ),
        apply(rest, RESOURCES.Service, buildService(KIND, owner, 'Cloud', 5000)),
        apply(
          rest,
          RESOURCES.Deployment,
          buildDeployment(KIND, owner, owner.spec.edgeWorker.template, { workerType: 'Edge', env }),
        ),
      ]);
      await rest.request('PATCH', objectPath(RESOURCES.JointInferenceService, baseNs, owner.metadata.name, 'status'), {
        body: {
          metadata: { resourceVersion: owner.metadata.resourceVersion },
          status: {
            startTime: new Date().toISOString(),
            active: 2,
            failed: 0,
            conditions: [{ type: 'Running', status: 'True' }],
          },
        },
        contentType: 'application/merge-patch+json',
      });
    });
    const baseS = (performance.now() - t0) / 1000;
    progress(`baseline: ${N} services' writes (${4 * N}) in ${round(baseS)} s`);

    // The CRs exist before any leader runs.
    const ns = await namespace(rest, 'bench-ops');
    await createModels(rest, ns);
    t0 = performance.now();
    await createAll(rest, ns, N);
    const createS = (performance.now() - t0) / 1000;
    progress(`${N} JointInferenceServices created in ${round(createS)} s`);

    // Steady state as the API shows it: every service Running (written only after its children).
    const running = new Set<string>();
    const jisInf = createInformer(
      { resource: RESOURCES.JointInferenceService, namespace: ns },
      { listerWatcher: restListerWatcher(rest, RESOURCES.JointInferenceService, ns), log },
    );
    const track = (o: KubeObject) => {
      if (o.status?.conditions?.at(-1)?.type === 'Running') running.add(o.metadata.name);
    };
    jisInf.addHandlers({ add: track, update: (_, o) => track(o) });
    void jisInf.start(ac.signal);
    const steady = () => running.size === N;

    const holder = await watchHolder(plane, ns, 'gm', ac.signal);
    const start = (id: string) =>
      startReplica(plane, {
        id,
        namespace: ns,
        logFile: `${plane.dir}/gm-${id}.log`,
        args: ['--watch-namespace', ns, '--workers', String(workers)],
      });
    replicas.push(await start('gm-a'), await start('gm-b'));
    const first = await holder.until((h) => h !== '', 30_000);
    while (!steady()) await sleep(20);
    const steadyS = (performance.now() - first.at) / 1000;
    progress(`leader ${first.holder}: steady after ${round(steadyS)} s`);
    const [deployments, services] = await Promise.all([
      listAll(rest, RESOURCES.Deployment, ns),
      listAll(rest, RESOURCES.Service, ns),
    ]);
    if (deployments !== 2 * N || services !== N) throw new Error(`${deployments} Deployments, ${services} Services`);
    const leader = replicas.find((r) => r.id === first.holder) as Replica;
    const standby = replicas.find((r) => r !== leader) as Replica;
    const cpu = { leader: cpuSeconds(leader.proc.pid), standby: cpuSeconds(standby.proc.pid) };
    const leaderMetrics = await metrics(leader);

    // Baseline for a new leader: reading everything once.
    t0 = performance.now();
    await Promise.all([
      listAll(rest, RESOURCES.JointInferenceService, ns),
      listAll(rest, RESOURCES.Deployment, ns),
      listAll(rest, RESOURCES.Service, ns),
    ]);
    const relistS = (performance.now() - t0) / 1000;

    // Failover: the standby must take the Lease, sync and re-verify all N services.
    await sleep(1000);
    const kill = performance.now();
    leader.proc.signal('SIGKILL');
    const next = await holder.until((h) => h === standby.id, 30_000, kill);
    let m = await metrics(standby);
    while (
      m.get('fedmesh_gm_operator_caches_synced') !== 1 ||
      sum(m, 'fedmesh_gm_reconcile_total', 'JointInferenceService', 'success') < N ||
      m.get('fedmesh_gm_workqueue_depth') !== 0
    ) {
      await sleep(50);
      m = await metrics(standby);
    }
    const failoverS = (performance.now() - kill) / 1000;
    if (!steady() || (await listAll(rest, RESOURCES.Deployment, ns)) !== 2 * N)
      throw new Error('not steady after failover');
    progress(`failover: steady after ${round(failoverS)} s`);

    return {
      n: N,
      workers,
      jis_per_s: round(N / steadyS, 1),
      baseline_jis_per_s: round(N / baseS, 1),
      ratio_vs_baseline: round(baseS / steadyS, 2),
      steady_s: round(steadyS),
      baseline_apply_s: round(baseS),
      leader_cpu_s: round(cpu.leader, 2),
      standby_cpu_s: round(cpu.standby, 2),
      leader_writes: sum(leaderMetrics, 'fedmesh_gm_operator_writes_total'),
      leader_reconciles: sum(leaderMetrics, 'fedmesh_gm_reconcile_total'),
      leader_reconcile_errors: sum(leaderMetrics, 'fedmesh_gm_reconcile_total', 'result="error"'),
      failover_steady_s: round(failoverS),
      takeover_s: round((next.at - kill) / 1000),
      resync_s: round(failoverS - (next.at - kill) / 1000),
      baseline_relist_s: round(relistS),
      failover_writes: sum(m, 'fedmesh_gm_operator_writes_total'),
      lease_duration_s: 2,
      cr_create_per_s: round(N / createS, 1),
    };
  } finally {
    ac.abort();
    await Promise.all(replicas.map((r) => r.proc.stop('SIGKILL')));
    rest.close();
    await plane.stop();
  }
}
