/**
 * LC path switching (issue 14): a real GM replica on a real control plane, an LC (in this process,
 * to see each applied change and its path) with all three paths, each cut by a proxy that drops its
 * bytes (no RST, no FIN): `direct` reaches the hub through one; `mesh` is the real mesh tunnel (a
 * `fedmesh mesh` beside the GM advertising fedmesh-gm, one on the LC side forwarding @fedmesh-gm,
 * on loopback: test/lc/mesh-loop.ts) with the cutting proxy in front of the LC-side forward; the
 * fallback is wired as the CLI wires it (`--edge-api`: the API server over its own route). A Dataset
 * of the LC's node changes every 100 ms throughout. LC default settings (heartbeat 200 ms / 800 ms,
 * probe period 5 s).
 *   - switch_to_mesh_p50/p99_s: direct cut → the first change applied on the mesh path.
 *   - switch_to_fallback_p50/p99_s: mesh cut too → the first change applied by the fallback (null
 *     while the fallback delivers nothing); to_fallback_p99_s: → the fallback running.
 *   - switch_back_p50/p99_s: mesh restored → the first change applied on the mesh path again
 *     (target ≤ the probe period + 1 s).
 *   - changes_repeated: a resourceVersion applied twice, or an older one after a newer;
 *     changes_lost: rounds after which the store did not converge to the latest version.
 *   - heartbeat cost per idle LC: link bytes/s both ways and LC CPU, beside the same LC with only
 *     the protocol's 10 s heartbeat (baseline, same run).
 *   - reports_lost / reports_duplicated: reports the LC accepted throughout the rounds, per object,
 *     against what reached the API (bench/lc/paths-reports.ts: IL stage reports exactly once each,
 *     the Dataset's coalesced count last write wins).
 *   - fallback_bytes_ratio: the fallback's own bytesReceived for one node's share of 1 000
 *     Datasets over 100 nodes ÷ an unfiltered list-watch of the same objects, same run
 *     (bench/lc/paths-bytes.ts).
 *   Baseline for the switch: Sedna's LC redials its one address every 5 s and has no second path.
 *   npm run -s bench -- lc-paths [ROUNDS]   (default 10)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { sleep } from '../common/async.ts';
import { createKubeRest } from '../common/kube/rest.ts';
import { targetLabel } from '../common/sedna/targets.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { LINK_HEARTBEAT_INTERVAL_MS, PATH_PROBE_PERIOD_MS } from '../lc/constants.ts';
import { createLc, type Lc } from '../lc/index.ts';
import { type Blackhole, blackhole } from '../lc/paths/testing.ts';
import type { Envtest } from '../test/envtest/index.ts';
import { startReplica } from '../test/gm/replicas.ts';
import { create, HUB_ONLY, mergePatch, nodeToken, until } from '../test/hub/helpers.ts';
import { applyStatusPolicy, lcApiToken } from '../test/lc/fallback-helpers.ts';
import { providersKnown, startLoopMesh } from '../test/lc/mesh-loop.ts';
import { fallbackBytes } from './lc/paths-bytes.ts';
import { trackReports } from './lc/paths-reports.ts';
import { quantile, round } from './stats.ts';

const log = (m: string) => process.stderr.write(`lc-paths bench: ${m}\n`);
const NODE = 'edge-1';

interface Applied {
  t: number;
  path: string;
  n: number;
  rv: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rounds = Number(args[0] ?? 10);
  const plane = await startControlPlane({ log });
  const rest = await createKubeRest(plane.kubeConfig());
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const ns = 'bench-paths';
    await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
    const token = await nodeToken(rest, ns, NODE);
    const gm = await startReplica(plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
    stops.push(() => gm.proc.stop('SIGKILL'));
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-paths-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const loop = await startLoopMesh({ dir, gmPort: gm.wsPort });
    stops.push(() => loop.stop());
    await providersKnown(loop, 1);
    const direct = await blackhole({ host: '127.0.0.1', port: gm.wsPort });
    const mesh = await blackhole({ host: '127.0.0.1', port: loop.forwardPort });
    stops.push(
      () => direct.close(),
      () => mesh.close(),
    );
    // The fallback's identity as deploy/lc-status-policy.yaml grants it (a ServiceAccount token bound
    // to a pod on the node). The object carries its node's target label, as the GM leader's labeler
    // would set it (the replica here runs the hub only).
    await applyStatusPolicy({ kubeConfig: () => plane.kubeConfig() } as Envtest, { after: () => {} } as never, ns);
    const apiTokenFile = join(dir, 'api-token');
    writeFileSync(apiTokenFile, await lcApiToken(rest, ns, NODE));
    await create(rest, ns, 'Dataset', {
      metadata: { name: 'ds', labels: { [targetLabel(NODE)]: 'true' } },
      spec: { url: '/data/index.txt', format: 'txt', nodeName: NODE },
    });

    const applied: Applied[] = [];
    let lc!: Lc;
    lc = createLc(
      {
        node: NODE,
        endpoints: [direct.url],
        meshEndpoints: [mesh.url],
        fallback: { url: plane.server, caFile: join(plane.dir, 'ca.crt'), tokenFile: apiTokenFile },
        rootfs: '/nonexistent',
      },
      {
        log: pino({ level: process.env.FEDMESH_BENCH_LOG ?? 'silent' }),
        token: () => token,
        observer: {
          applied(ops) {
            for (const op of ops) {
              if (op.op !== 'upsert' || op.name !== 'ds') continue;
              const meta = (
                op.object as { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } }
              ).metadata;
              applied.push({
                t: performance.now(),
                path: lc.status().path,
                n: Number(meta?.annotations?.['bench/n'] ?? 0),
                rv: Number(meta?.resourceVersion ?? 0),
              });
            }
          },
        },
      },
    );
    const ac = new AbortController();
    const lcDone = lc.start(ac.signal);
    stops.push(async () => {
      ac.abort();
      await lcDone;
    });
    await until('the LC on direct', 30_000, () => lc.status().path === 'direct');
    const reports = await trackReports({ lc, rest, ns, node: NODE, dataset: 'ds' });

    // Changes every 100 ms for the whole run.
    let n = 0;
    let latest = 0;
    const writer = (async () => {
      while (!ac.signal.aborted) {
        n++;
        const r = (await mergePatch(rest, ns, 'Dataset', 'ds', {
          metadata: { annotations: { 'bench/n': String(n) } },
        }).catch(() => undefined)) as { metadata?: { resourceVersion?: string } } | undefined;
        if (r?.metadata?.resourceVersion) latest = Math.max(latest, Number(r.metadata.resourceVersion));
        await sleep(100);
      }
    })();

    const firstOn = async (path: string, t0: number, ms: number) => {
      const end = t0 + ms;
      while (performance.now() < end) {
        const a = applied.find((x) => x.t > t0 && x.path === path);
        if (a) return (a.t - t0) / 1000;
        await sleep(5);
      }
      return undefined;
    };
    const toMesh: number[] = [];
    const toFallback: number[] = [];
    const toFallbackStart: number[] = [];
    const back: number[] = [];
    let lost = 0;
    for (let i = 0; i < rounds; i++) {
      await sleep(500 + Math.random() * 500); // cuts at random phases of the heartbeat
      let t0 = performance.now();
      direct.cut();
      const m = await firstOn('mesh', t0, 10_000);
      if (m === undefined) throw new Error(`round ${i}: no change on the mesh path`);
      toMesh.push(m);
      await sleep(300 + Math.random() * 500);
      t0 = performance.now();
      mesh.cut();
      await until('the fallback', 10_000, () => lc.status().path === 'fallback');
      toFallbackStart.push((performance.now() - t0) / 1000);
      const f = await firstOn('fallback', t0, 4000);
      if (f !== undefined) toFallback.push(f);
      await sleep(Math.random() * 1000);
      t0 = performance.now();
      mesh.heal();
      const b = await firstOn('mesh', t0, PATH_PROBE_PERIOD_MS + 10_000);
      if (b === undefined) throw new Error(`round ${i}: never back on the mesh path`);
      back.push(b);
      direct.heal();
      await until('back on direct', PATH_PROBE_PERIOD_MS + 10_000, () => lc.status().path === 'direct');
      await sleep(500);
      const want = latest;
      await sleep(1000);
      const got = storedRv(lc);
      if (got < want) lost++;
      log(
        `round ${i}: mesh ${m}s, fallback start ${toFallbackStart.at(-1)}s, back ${b}s, version ${got} (latest ${want})`,
      );
    }
    const tally = await reports.settle();
    ac.abort();
    await writer;
    await lcDone; // the idle LCs below use the same node identity
    let repeated = 0;
    for (let i = 1; i < applied.length; i++) {
      const prev = Math.max(...applied.slice(0, i).map((a) => a.rv));
      if ((applied[i] as Applied).rv <= prev) repeated++;
    }
    const cost = await heartbeatCost(gm.wsPort, token, log);
    const ratio = await fallbackBytes(plane, rest, ns);
    const q = (s: number[], p: number) => (s.length ? round(quantile(s, p)) : null);
    return {
      rounds,
      switch_to_mesh_p50_s: q(toMesh, 0.5),
      switch_to_mesh_p99_s: q(toMesh, 0.99),
      switch_to_fallback_p50_s: q(toFallback, 0.5),
      switch_to_fallback_p99_s: q(toFallback, 0.99),
      fallback_rounds_delivered: toFallback.length,
      to_fallback_p99_s: q(toFallbackStart, 0.99),
      switch_back_p50_s: q(back, 0.5),
      switch_back_p99_s: q(back, 0.99),
      probe_period_s: PATH_PROBE_PERIOD_MS / 1000,
      changes_applied: applied.length,
      changes_repeated: repeated,
      changes_lost: lost,
      ...tally,
      baseline_sedna_redial_s: 5,
      ...cost,
      ...ratio,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await plane.stop();
    rest.close();
  }
}

function storedRv(lc: Lc): number {
  const o = lc.store.getObject('Dataset', 'bench-paths', 'ds')?.object as
    | { metadata?: { resourceVersion?: string } }
    | undefined;
  return Number(o?.metadata?.resourceVersion ?? 0);
}

/** An idle LC's link for 10 s: bytes both ways through a proxy and the CPU of this process, LC heartbeat vs protocol's. */
async function heartbeatCost(port: number, token: string, say: (m: string) => void) {
  const measure = async (intervalMs: number, timeoutMs: number) => {
    const proxy: Blackhole = await blackhole({ host: '127.0.0.1', port });
    const lc = createLc(
      { node: NODE, endpoints: [proxy.url], heartbeatIntervalMs: intervalMs, heartbeatTimeoutMs: timeoutMs },
      { log: pino({ level: 'silent' }), token: () => token },
    );
    const ac = new AbortController();
    const done = lc.start(ac.signal);
    await until('idle LC connected', 30_000, () => lc.status().connected);
    await sleep(1000);
    const b0 = proxy.bytes();
    const c0 = process.cpuUsage();
    await sleep(10_000);
    const c = process.cpuUsage(c0);
    const bytes = proxy.bytes() - b0;
    ac.abort();
    await done;
    await proxy.close();
    return { bytesPerS: bytes / 10, cpuPct: ((c.user + c.system) / 1e6 / 10) * 100 };
  };
  say('idle cost: LC heartbeat');
  const hb = await measure(LINK_HEARTBEAT_INTERVAL_MS, 800);
  say('idle cost: protocol heartbeat only');
  const base = await measure(10_000, 30_000);
  return {
    idle_link_bytes_per_s: round(hb.bytesPerS, 1),
    idle_link_packets_per_s_est: round((1000 / LINK_HEARTBEAT_INTERVAL_MS) * 2, 1),
    idle_cpu_pct: round(hb.cpuPct, 3),
    baseline_idle_link_bytes_per_s: round(base.bytesPerS, 1),
    baseline_idle_cpu_pct: round(base.cpuPct, 3),
  };
}
