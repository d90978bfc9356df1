/**
 * The LC hub at scale: one GM replica with N simulated fedmesh LCs (N = 1k, 5k, 10k; all in this
 * process, authenticated with real per-node ServiceAccount tokens):
 *   - RSS and CPU per connection (connect storm, then idle with heartbeats),
 *   - fan-out latency of one CR change to every LC at 1k (a Model every node's IL job uses),
 *   - upstream reports applied per second at 1k (each LC: report, wait for the ack, repeat),
 *   - re-home time after `kill -9` of the replica serving 1k LCs (2 replicas).
 * Baselines in the same run: a bare `ws` echo server with the same N (RSS, CPU, broadcast fan-out,
 * reconnect after kill -9), the API server's own watch latency, and direct status writes.
 *   npm run -s bench -- hub [MAX_N]        (MAX_N default 10000)
 */ import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { sleep } from '../common/async.ts';
import { createKubeRest, type KubeRest } from '../common/kube/rest.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { installCrds } from '../crds/install.ts';
import { GM_NODE_OPTIONS } from '../gm/hub/constants.ts';
import { type Replica, startReplica } from '../test/gm/replicas.ts';
import { create, dataset, incrementalJob, mergePatch, objectsUrl, startIncrementalJob } from '../test/hub/helpers.ts';
import { baseline } from './hub/baseline.ts';
import { heap, pool, SimLc, usage } from './hub/sim.ts';
import { quantile, round } from './stats.ts';

const log = (m: string) => process.stderr.write(`hub bench: ${m}\n`);

/** Per-node identities: a ServiceAccount `lc-<node>` each and a token (audience fedmesh). */
async function identities(rest: KubeRest, ns: string, n: number): Promise<string[]> {
  const tokens: string[] = [];
  await pool(Array.from({ length: n }), 32, async (_x, i) => {
    await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
      body: { metadata: { name: `lc-n${i}` } },
    });
    const tr = await rest.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/lc-n${i}/token`,
      { body: { spec: { audiences: ['fedmesh'], expirationSeconds: 7200 } } },
    );
    tokens[i] = tr.status.token;
  });
  return tokens;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const maxN = Number(args[0] ?? 10_000);
  const sizes = [1000, 5000, 10_000].filter((n) => n <= maxN);
  // Room for 10k sockets here and in every child (they inherit the limit); best effort.
  spawnSync('prlimit', ['--pid', String(process.pid), '--nofile=65536:65536']);
  const figures: Record<string, unknown> = { lcs: sizes, dialect: 'fedmesh.v1', heartbeat_interval_s: 10 };
  Object.assign(figures, await baseline(sizes));

  const plane = await startControlPlane({ log });
  const rest = await createKubeRest(plane.kubeConfig());
  const sims: SimLc[] = [];
  const replicas: Replica[] = [];
  try {
    await installCrds(plane.kubeConfig());
    const ns = 'bench-hub';
    await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
    let t = performance.now();
    const tokens = await identities(rest, ns, maxN);
    log(`${maxN} identities in ${round((performance.now() - t) / 1000, 1)} s`);
    // The fan-out object: a Model that every node's IL job uses, so it goes to every node.
    t = performance.now();
    await create(rest, ns, 'Model', { metadata: { name: 'base' }, spec: { url: '/m/0', format: 'pb' } });
    await pool(Array.from({ length: 1000 }), 32, async (_x, i) => {
      await create(rest, ns, 'Dataset', dataset(`ds-n${i}`, `n${i}`));
      const job = incrementalJob(`il-n${i}`, `ds-n${i}`) as {
        spec: Record<string, { name?: string; model?: { name: string } }>;
      };
      (job.spec.initialModel as { name: string }).name = 'base';
      (job.spec.deploySpec as { model: { name: string } }).model.name = 'base';
      await create(rest, ns, 'IncrementalLearningJob', job);
      await startIncrementalJob(rest, ns, `il-n${i}`);
    });
    log(`fan-out objects in ${round((performance.now() - t) / 1000, 1)} s`);

    // All simulated LCs connect from 127.0.0.1: the per-source limit is raised so they fit.
    const opts = {
      namespace: ns,
      readyz: 'replica' as const,
      logFile: '/dev/null',
      args: ['--no-operators', '--max-connections-per-source', '20000'],
    };
    // FEDMESH_BENCH_PROF=DIR: CPU profiles of both replicas, written when they stop; replica a is then
    // stopped with SIGTERM instead of SIGKILL (a profile needs an orderly exit), so re-home figures
    // of such a run are not kill -9 figures.
    // FEDMESH_BENCH_NODE_OPTIONS: more Node options for the replicas (e.g. --heapsnapshot-signal=SIGUSR2).
    const prof = process.env.FEDMESH_BENCH_PROF;
    // The replicas run with the Node options of deploy/gm.yaml.
    const nodeOptions = [
      GM_NODE_OPTIONS,
      prof ? `--cpu-prof --cpu-prof-dir=${prof}` : '',
      process.env.FEDMESH_BENCH_NODE_OPTIONS ?? '',
    ]
      .join(' ')
      .trim();
    const profEnv = { env: { ...process.env, NODE_OPTIONS: nodeOptions } };
    replicas.push(
      await startReplica(plane, { id: 'a', ...opts, ...profEnv }),
      await startReplica(plane, { id: 'b', ...opts, ...profEnv }),
    );
    const [a, b] = replicas as [Replica, Replica];
    while ((await a.readyz()) !== 200 || (await b.readyz()) !== 200) await sleep(200);
    const urls = [a, b].map((r) => `ws://127.0.0.1:${r.wsPort}/`);
    await sleep(1000);
    const idle = usage(a.proc.pid);
    figures.rss_mib_0 = round(idle.rssMiB, 1);
    figures.heap_mib_0 = await heap(a.port);

    for (const n of sizes) {
      const before = usage(a.proc.pid);
      t = performance.now();
      const fresh = Array.from({ length: n - sims.length }, (_x, k) => {
        const i = sims.length + k;
        return new SimLc(`n${i}`, tokens[i] as string, urls);
      });
      sims.push(...fresh);
      await pool(fresh, 200, (s) => s.connect());
      const connectS = (performance.now() - t) / 1000;
      // Idle means after the background work of the storm: TokenReview confirmations (3–6 s) and the
      // connection Leases (written from 2 s on, a few at a time) have finished.
      const leaseWrites = async () => {
        const m = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
        return Number(/^fedmesh_hub_lease_writes_total\{result="ok"\} (\d+)/m.exec(m)?.[1] ?? 0);
      };
      await sleep(7000);
      for (let last = -1, now = await leaseWrites(); now !== last; last = now, now = await leaseWrites())
        await sleep(2000);
      const cpuBefore = usage(a.proc.pid);
      await sleep(10_000); // idle: heartbeats only
      const after = usage(a.proc.pid);
      const k = `${n / 1000}k`;
      figures[`rss_mib_${k}`] = round(after.rssMiB, 1);
      figures[`heap_mib_${k}`] = await heap(a.port);
      figures[`rss_kib_per_conn_${k}`] = round(((after.rssMiB - idle.rssMiB) * 1024) / n, 1);
      // Everything a connection costs: upgrade, snapshot, confirmation, Lease.
      figures[`cpu_ms_per_connect_${k}`] = round(((cpuBefore.cpuS - before.cpuS) * 1000) / fresh.length, 3);
      figures[`idle_cpu_pct_${k}`] = round(((after.cpuS - cpuBefore.cpuS) / 10) * 100, 1);
      figures[`connect_storm_s_${k}`] = round(connectS, 2);
      figures[`served_by_one_replica_${k}`] = sims.filter((x) => x.welcomes.at(-1)?.replica === 'a').length;
      const m = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
      log(
        `refusals: ${m
          .split('\n')
          .filter((l) => l.startsWith('fedmesh_hub_connection_refusals_total{'))
          .join(' ')}`,
      );
      log(`${n} LCs: ${round(after.rssMiB, 1)} MiB, connected in ${round(connectS, 1)} s`);

      if (n === 1000) {
        // Fan-out: patch the Model; time from the PATCH to each LC receiving the new version.
        const fanout = async (label: string, rounds: number) => {
          const lat: number[] = [];
          const watchLat: number[] = [];
          for (let r = 1; r <= rounds; r++) {
            const marker = `/m/${label}-${r}`;
            for (const s of sims) s.watch = marker;
            const ac = new AbortController();
            const watched = (async () => {
              for await (const ev of rest.watch<{ spec?: { url?: string } }>(
                `/apis/sedna.io/v1alpha1/namespaces/${ns}/models`,
                {
                  query: { fieldSelector: 'metadata.name=base' },
                  signal: ac.signal,
                },
              )) {
                if (ev.object.spec?.url === marker) return performance.now();
              }
              return Number.NaN;
            })().catch(() => Number.NaN);
            await sleep(300);
            const t0 = performance.now();
            await mergePatch(rest, ns, 'Model', 'base', { spec: { url: marker } });
            while (sims.some((s) => !s.seen.has(marker)) && performance.now() - t0 < 30_000) await sleep(5);
            const round_ = sims.map((s) => (s.seen.get(marker) ?? Number.POSITIVE_INFINITY) - t0);
            lat.push(...round_);
            log(
              `${label} round ${r}: first ${round(Math.min(...round_), 1)} ms, p50 ${round(quantile(round_, 0.5), 1)}, last ${round(Math.max(...round_), 1)}`,
            );
            watchLat.push((await Promise.race([watched, sleep(1000).then(() => Number.NaN)])) - t0);
            ac.abort();
          }
          return { lat, watchLat };
        };
        const { lat, watchLat } = await fanout('fanout', 5);
        figures.fanout_p50_ms_1k = round(quantile(lat, 0.5), 1);
        figures.fanout_p99_ms_1k = round(quantile(lat, 0.99), 1);
        figures.baseline_api_watch_p50_ms = round(quantile(watchLat.filter(Number.isFinite), 0.5), 1);

        // The same fan-out while a separate process hammers the replica with hostile upgrades (no
        // credentials, from another loopback address): how many it refuses a second, and what the
        // storm costs the well-behaved LCs' fan-out.
        const stormArgs = [join(import.meta.dirname, 'hub', 'storm.ts'), String(a.wsPort), '12', '64', '127.0.0.2'];
        const storm = spawn(process.execPath, stormArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
        let stormOut = '';
        storm.stdout.on('data', (d) => {
          stormOut += d;
        });
        const stormDone = new Promise((r) => storm.once('exit', r));
        await sleep(1500);
        const stormy = await fanout('storm', 5);
        await stormDone;
        const st = JSON.parse(stormOut) as { refused: number; failed: number; seconds: number };
        figures.refused_per_s = round(st.refused / st.seconds, 0);
        figures.storm_unrefused_connections = st.failed;
        figures.fanout_p99_ms_1k_storm = round(quantile(stormy.lat, 0.99), 1);
        figures.fanout_p99_storm_ratio = round(quantile(stormy.lat, 0.99) / quantile(lat, 0.99), 2);
        log(`storm: ${figures.refused_per_s} refused/s, fan-out p99 ${figures.fanout_p99_ms_1k_storm} ms`);

        // Reports: every LC reports, waits for the ack, reports again, for 8 s.
        const acked0 = sims.reduce((x, s) => x + s.acked, 0);
        const cpu0 = usage(a.proc.pid);
        t = performance.now();
        await Promise.all(sims.map((s) => s.reportLoop(ns, t + 8000)));
        const secs = (performance.now() - t) / 1000;
        const applied = sims.reduce((x, s) => x + s.acked, 0) - acked0;
        figures.reports_applied_per_s_1k = round(applied / secs, 0);
        figures.cpu_ms_per_report_1k = round(((usage(a.proc.pid).cpuS - cpu0.cpuS) * 1000) / applied, 3);
        // Baseline: the same status writes (GET + PUT /status) straight from here, 64 at a time.
        let direct = 0;
        const tb = performance.now();
        await pool(Array.from({ length: 64 }), 64, async (_x, w) => {
          for (let i = w; performance.now() - tb < 8000; i += 64) {
            const url = objectsUrl(ns, 'Dataset', `ds-n${i % 1000}`);
            const o = await rest.request<{ status?: Record<string, unknown> }>('GET', url);
            o.status = { numberOfSamples: 1_000_000 + i, updateTime: new Date().toISOString() };
            await rest.request('PUT', `${url}/status`, { body: o }).then(
              () => direct++,
              () => undefined,
            );
          }
        });
        figures.baseline_api_status_writes_per_s = round(direct / ((performance.now() - tb) / 1000), 0);
        log(`fan-out p99 ${figures.fanout_p99_ms_1k} ms, ${figures.reports_applied_per_s_1k} reports/s`);
      }
    }

    // Re-home: keep the first 1000 LCs, kill -9 their replica, time until the other one welcomes each.
    for (const s of sims.splice(1000)) s.close();
    // Let the replica release the closed connections' Leases first: the re-home should not race that storm.
    const held = async () => {
      const l = await rest.request<{ items: Array<{ spec?: { holderIdentity?: string } }> }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
        { query: { labelSelector: 'fedmesh.io/lc-connection=true' } },
      );
      return l.items.filter((x) => x.spec?.holderIdentity === 'a').length;
    };
    for (let i = 0; i < 120 && (await held()) > 1000; i++) await sleep(500);
    await sleep(2000);
    const cpu = () => ({
      hub: usage(b.proc.pid).cpuS,
      api: usage(plane.state.apiserverPid).cpuS + usage(plane.state.etcdPid).cpuS,
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const cpu0 = cpu();
    const killedAt = performance.now();
    a.proc.signal(prof ? 'SIGTERM' : 'SIGKILL');
    while (sims.some((s) => !s.welcomes.some((w) => w.at > killedAt)) && performance.now() - killedAt < 60_000) {
      await sleep(10);
    }
    const rehome = sims.map(
      (s) => (s.welcomes.find((w) => w.at > killedAt)?.at ?? Number.POSITIVE_INFINITY) - killedAt,
    );
    figures.rehome_p50_s_1k = round(quantile(rehome, 0.5) / 1000, 3);
    figures.rehome_p99_s_1k = round(quantile(rehome, 0.99) / 1000, 3);
    // Until the new replica's full snapshot has arrived as well (re-home counts until the welcome).
    while (sims.some((s) => !s.synced.some((x) => x > killedAt)) && performance.now() - killedAt < 60_000) {
      await sleep(10);
    }
    const synced = sims.map((s) => (s.synced.find((x) => x > killedAt) ?? Number.POSITIVE_INFINITY) - killedAt);
    figures.rehome_synced_p50_s_1k = round(quantile(synced, 0.5) / 1000, 3);
    figures.rehome_synced_p99_s_1k = round(quantile(synced, 0.99) / 1000, 3);
    figures.rehomed_to_other_replica = sims.every((s) => s.welcomes.at(-1)?.replica === 'b');
    // Where the 2 cores went until the last LC was back: the hub, the API server + etcd, and this process (the LCs).
    const cpu1 = cpu();
    figures.rehome_cpu_s = {
      hub: round(cpu1.hub - cpu0.hub, 2),
      apiserver_etcd: round(cpu1.api - cpu0.api, 2),
      simulated_lcs: round(cpu1.bench - cpu0.bench, 2),
      wall: round(Math.max(...rehome) / 1000, 2),
    };
    log(`re-home p99 ${figures.rehome_p99_s_1k} s`);

    // Churn, on a replica of its own: 10,000 distinct node names (claimed with the Node-Name header,
    // as --allow-unauthenticated-sedna-lc permits) connect 1,000 at a time, stay until the hub wrote
    // their connection Leases, and leave. The first such churn grows V8's heap to its working size
    // (heap reserved ~45 → ~80 MiB, heap used back to where it was) and RSS with it, once; so it is a
    // warm-up, reported as rss_mib_after_first_churn, and the ratio is RSS after a second churn of
    // 10,000 new names over RSS before it: growth per name ever seen, which must be none.
    const c = await startReplica(plane, {
      id: 'c',
      ...opts,
      args: [...opts.args, '--allow-unauthenticated-sedna-lc'],
      ...profEnv,
    });
    replicas.push(c);
    while ((await c.readyz()) !== 200) await sleep(200);
    const leasesOfC = async () => {
      const l = await rest.request<{ items: Array<{ spec?: { holderIdentity?: string } }> }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
        { query: { labelSelector: 'fedmesh.io/lc-connection=true' } },
      );
      return l.items.filter((x) => x.spec?.holderIdentity === 'c').length;
    };
    const churn = async (prefix: string, total: number) => {
      for (let start = 0; start < total; start += 1000) {
        const batch = Array.from({ length: 1000 }, (_x, i) => {
          const ws = new WebSocket(`ws://127.0.0.1:${c.wsPort}/`, {
            headers: { 'Node-Name': `${prefix}-${start + i}` },
          });
          ws.on('error', () => {});
          return ws;
        });
        await Promise.all(batch.map((ws) => new Promise((r) => ws.once('open', r).once('close', r))));
        for (let i = 0; i < 40 && (await leasesOfC()) < 500; i++) await sleep(250);
        for (const ws of batch) ws.terminate();
      }
      for (let i = 0; i < 240 && (await leasesOfC()) > 0; i++) await sleep(500);
    };
    const rssIdle = usage(c.proc.pid).rssMiB;
    await churn('warm', 10_000);
    await sleep(5000);
    const rssBefore = usage(c.proc.pid).rssMiB;
    figures.rss_mib_idle_churn_replica = round(rssIdle, 1);
    figures.rss_mib_after_first_churn = round(rssBefore, 1);
    t = performance.now();
    await churn('spoof', 10_000);
    figures.churn_s = round((performance.now() - t) / 1000, 1);
    figures.churn_leases_left = await leasesOfC();
    await sleep(5000);
    const rssAfter = usage(c.proc.pid).rssMiB;
    const m = await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text();
    figures.churn_node_series_left = m.split('\n').filter((l) => l.startsWith('fedmesh_hub_lc_connected{')).length;
    figures.rss_mib_before_churn = round(rssBefore, 1);
    figures.rss_mib_after_churn = round(rssAfter, 1);
    figures.rss_after_churn_ratio = round(rssAfter / rssBefore, 3);
    log(`churn: RSS ${round(rssBefore, 1)} → ${round(rssAfter, 1)} MiB`);
  } finally {
    for (const s of sims) s.close();
    // SIGTERM: a replica shuts down in well under a second, and writes its CPU profile when asked to.
    await Promise.all(replicas.map((r) => r.proc.stop('SIGTERM', 5000)));
    rest.close();
    await plane.stop();
  }
  return figures;
}
