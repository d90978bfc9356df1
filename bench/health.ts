/**
 * `npm run bench -- health [trials]`: node health decided by the nodes (issue 19).
 *
 * 1. Decision time after a cut, in probe periods, for zones of 5, 50 and 500 simulated voters in
 *    this process: real probers (mesh/health) signing real views, the GM's ballot box verifying
 *    every one of them; a node is cut from everyone at a random instant within a period and the
 *    periods until the tally says `unhealthy` are counted (publication to the API and the GM tick
 *    add at most one period and one tick; docs/edge-health.md). Probe and view messages per node
 *    per second at the default 5 s period, for each zone size.
 * 2. Wrong evictions against plain Kubernetes, same run, same cuts: a real control plane with
 *    kube-controller-manager (node lifecycle, taint eviction; 5 s grace), a `fedmesh gm --health`
 *    replica with the webhook, two zones of five simulated nodes with one pod each (toleration
 *    6 s). In both zones two nodes lose their cloud link; in the fedmesh zone their peers still see
 *    them, in the baseline zone no agent publishes (Kubernetes alone). A third fedmesh node is cut
 *    from everyone: its eviction is the one the table requires (`correct_evictions`).
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { sleep } from '../common/async.ts';
import { createKubeRest, type KubeRest } from '../common/kube/rest.ts';
import { freePort } from '../common/net/ports.ts';
import { issueCert } from '../controlplane/certs.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { createBallotBox } from '../mesh/health/ballot.ts';
import { DEFAULT_FAILURE_THRESHOLD, DEFAULT_PERIOD_MS } from '../mesh/health/constants.ts';
import { createProber, type Prober } from '../mesh/health/prober.ts';
import { tallyNode } from '../mesh/health/tally.ts';
import { createZoneIndex } from '../mesh/health/zones.ts';
import { startReplica } from '../test/gm/replicas.ts';
import { type Cluster, CONTROLLER_ARGS, registerWebhooks, startCluster } from '../test/health/harness.ts';
import { quantile, round } from './stats.ts';

const LABEL = 'fedmesh.io/topology-zone';

/** One zone of `n` probers; returns decision periods of `trials` cuts and messages per node per second. */
async function zone(n: number, trials: number) {
  const names = Array.from({ length: n }, (_, i) => `v${i}`);
  const zones = createZoneIndex(
    names.map((name) => ({ name, labels: { [LABEL]: 'z' } })),
    { enabled: true, label: LABEL },
  );
  let now = 0;
  const wall0 = Date.now();
  const clock = {
    now: () => now,
    wall: () => wall0 + now,
    sleep: (_ms: number, signal: AbortSignal) =>
      new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
  };
  let cut: string | undefined;
  let probes = 0;
  const pins = new Map<string, string>();
  const probers: [string, Prober][] = [];
  const timing = { periodMs: DEFAULT_PERIOD_MS, timeoutMs: 2_000, failureThreshold: DEFAULT_FAILURE_THRESHOLD };
  for (const name of names) {
    const key = await generateKeyPair('Ed25519');
    const peerId = peerIdFromPrivateKey(key).toString();
    pins.set(name, peerId);
    probers.push([
      name,
      createProber(
        { self: name, peerId, epoch: 1, timing },
        {
          key,
          zone: () => zones.zoneOf(name),
          clock,
          probe: async (node) => {
            // The agent probes each member over both paths at once: the mesh ping and a direct TCP dial.
            probes += 2;
            return node !== cut && name !== cut;
          },
          publish: () => {},
        },
      ),
    ]);
  }
  // The GM: every view a node with a cloud link publishes, verified (the cut node has none).
  const box = createBallotBox(
    { maxSkewMs: 60_000 },
    { keyOf: (name) => pins.get(name), zoneOf: zones.zoneOf, clock: { now: () => now, wall: clock.wall } },
  );
  const signal = new AbortController().signal;
  let rounds = 0;
  const period = async () => {
    now += DEFAULT_PERIOD_MS;
    rounds++;
    for (const [name, p] of probers) {
      const view = await p.round(signal);
      if (name !== cut) await box.accept(view.bytes);
    }
  };
  const outcome = (node: string) =>
    tallyNode(node, { zone: zones.zoneOf(node), ballots: box.ballots(), now, windowMs: 3 * DEFAULT_PERIOD_MS })
      ?.outcome;
  await period();
  const periods: number[] = [];
  const t0 = performance.now();
  for (let t = 0; t < trials; t++) {
    const victim = names[(t * 7) % n] as string;
    // The cut falls at a random instant of the current period.
    const phase = Math.random() * DEFAULT_PERIOD_MS;
    cut = victim;
    let elapsed = DEFAULT_PERIOD_MS - phase;
    await period();
    while (outcome(victim) !== 'unhealthy') {
      await period();
      elapsed += DEFAULT_PERIOD_MS;
      if (elapsed > 20 * DEFAULT_PERIOD_MS) throw new Error(`no decision on ${victim} in 20 periods`);
    }
    periods.push(elapsed / DEFAULT_PERIOD_MS);
    cut = undefined;
    while (outcome(victim) !== 'healthy') await period();
  }
  const cpuMsPerRound = (performance.now() - t0) / rounds;
  // Per node per period: two probes (mesh, direct) to each other member and one view delivered to each.
  const msgsPerNodeS = ((probes / n + (n - 1) * rounds) / rounds / DEFAULT_PERIOD_MS) * 1000;
  return { periods, msgsPerNodeS, cpuMsPerRound };
}

async function evictions(): Promise<Record<string, number>> {
  const plane = await startControlPlane({
    controllers: ['node-lifecycle-controller', 'taint-eviction-controller', 'endpointslice-controller'],
    controllerArgs: CONTROLLER_ARGS,
  });
  const rest: KubeRest = await createKubeRest(plane.kubeConfig());
  const clusters: Cluster[] = [];
  let gm: Awaited<ReturnType<typeof startReplica>> | undefined;
  try {
    await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: 'fedmesh-health' } } });
    for (const ns of ['fm', 'k8s']) {
      await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
      await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
        body: { metadata: { name: 'default' } },
      });
    }
    const cert = await issueCert(
      plane.dir,
      'health-webhook',
      { cn: 'health-webhook' },
      { server: { ips: ['127.0.0.1'], dns: [] } },
    );
    const port = await freePort();
    await registerWebhooks(rest, plane.dir, [port]);
    gm = await startReplica(plane, {
      id: 'gm-0',
      namespace: 'fedmesh-health',
      args: [
        '--no-operators',
        '--health',
        '--health-zones',
        '--health-tick',
        '500ms',
        '--health-window',
        '4s',
        '--health-max-skew',
        '5s',
        '--health-refresh',
        '5s',
        '--health-webhook-listen',
        `127.0.0.1:${port}`,
        '--health-webhook-cert',
        cert.cert,
        '--health-webhook-key',
        cert.key,
      ],
    });
    const names = (p: string) => Array.from({ length: 5 }, (_, i) => `${p}-${i + 1}`);
    const opts = { namespace: 'fedmesh-health', periodMs: 1000 };
    const fm = await startCluster(rest, { ...opts, zone: 'fm', names: names('fm') });
    const k8s = await startCluster(rest, { ...opts, zone: 'k8s', names: names('k8s'), views: false });
    clusters.push(fm, k8s);
    const anchors = await startCluster(rest, { ...opts, zone: 'anchor', names: ['anchor-a', 'anchor-b'] });
    clusters.push(anchors);
    for (const [c, ns, p] of [
      [fm, 'fm', 'fm'],
      [k8s, 'k8s', 'k8s'],
    ] as const) {
      for (const n of names(p)) await c.pod(ns, n, `on-${n}`, 'web', 6);
    }
    await sleep(8_000); // every fedmesh node judged healthy, every pod ready
    for (const [c, p] of [
      [fm, 'fm'],
      [k8s, 'k8s'],
    ] as const)
      for (const i of [1, 2]) c.cloud(`${p}-${i}`, false);
    fm.cloud('fm-3', false);
    fm.isolate('fm-3', false);
    await sleep(5_000 + 6_000 + 15_000); // grace, toleration, margin
    const left = async (ns: string) =>
      new Set(
        (
          await rest.request<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(
            'GET',
            `/api/v1/namespaces/${ns}/pods`,
          )
        ).items
          .filter((p) => !p.metadata.deletionTimestamp)
          .map((p) => p.metadata.name),
      );
    const fmLeft = await left('fm');
    const k8sLeft = await left('k8s');
    return {
      wrong_evictions: ['fm-1', 'fm-2', 'fm-4', 'fm-5'].filter((n) => !fmLeft.has(`on-${n}`)).length,
      correct_evictions: fmLeft.has('on-fm-3') ? 0 : 1,
      baseline_evictions: ['k8s-1', 'k8s-2'].filter((n) => !k8sLeft.has(`on-${n}`)).length,
      baseline_cut_nodes: 2,
    };
  } finally {
    for (const c of clusters) await c.stop();
    await gm?.proc.stop('SIGKILL');
    rest.close();
    await plane.stop();
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const trials = Number(args[0] ?? 20);
  const out: Record<string, unknown> = {};
  const all: number[] = [];
  for (const [n, k] of [
    [5, trials],
    [50, Math.max(3, trials / 2)],
    [500, Math.max(2, trials / 10)],
  ] as const) {
    const r = await zone(n, k);
    all.push(...r.periods);
    out[`decision_periods_p99_${n}`] = round(quantile(r.periods, 0.99), 2);
    out[`msgs_per_node_s_${n}`] = round(r.msgsPerNodeS, 2);
    out[`round_cpu_ms_${n}`] = round(r.cpuMsPerRound, 1);
  }
  out.decision_periods_p99 = round(quantile(all, 0.99), 2);
  Object.assign(out, await evictions());
  return out;
}
