/**
 * Edge health end to end on the cloud side (issue 19): simulated nodes (Node, node Lease, pods,
 * signed views through the agent's publisher), a real kube-controller-manager (node lifecycle,
 * taint eviction, EndpointSlices), two `fedmesh gm --health` replicas with the webhook.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { DECISION_ANNOTATION, parseDecision, TALLY_ANNOTATION } from '../../gm/health/index.ts';
import { type Cluster, getNode, startCluster, until } from './harness.ts';
import { metricSum, NS, PERIOD_MS, TOLERATION_S, useHealthStage } from './setup.ts';

const stage = useHealthStage();

const outcome = async (rest: KubeRest, node: string) =>
  parseDecision((await getNode(rest, node)).metadata.annotations?.[DECISION_ANNOTATION])?.outcome;
const taints = (n: KubeObject): { key: string; effect: string }[] => n.spec?.taints ?? [];
const notReady = (n: KubeObject) =>
  (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status !== 'True');
const hasNoExecute = (n: KubeObject) => taints(n).some((t) => t.effect === 'NoExecute');
const hasNoSchedule = (n: KubeObject) =>
  taints(n).some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoSchedule');

async function pods(rest: KubeRest, ns: string): Promise<KubeObject[]> {
  return (await rest.request<{ items: KubeObject[] }>('GET', `/api/v1/namespaces/${ns}/pods`)).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );
}
const podReady = (p: KubeObject) =>
  (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

/** Endpoint readiness by pod name, from the EndpointSlices of `service`. */
async function endpoints(rest: KubeRest, ns: string, service: string): Promise<Map<string, boolean>> {
  const slices = await rest.request<{ items: KubeObject[] }>(
    'GET',
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
    { query: { labelSelector: `kubernetes.io/service-name=${service}` } },
  );
  const out = new Map<string, boolean>();
  for (const s of slices.items) {
    for (const e of (s as { endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[] })
      .endpoints ?? []) {
      if (e.targetRef) out.set(e.targetRef.name, e.conditions?.ready === true);
    }
  }
  return out;
}

/** A pod for kube-scheduler (no nodeName), allowed only on `nodes`, tolerating nothing. */
async function newPod(rest: KubeRest, ns: string, name: string, nodes: string[]) {
  await rest.request('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: {
      metadata: { name },
      spec: {
        containers: [{ name: 'c', image: 'example.invalid/app:1' }],
        terminationGracePeriodSeconds: 0,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              // Terms are ORed; a field selector takes one value.
              nodeSelectorTerms: nodes.map((n) => ({
                matchFields: [{ key: 'metadata.name', operator: 'In', values: [n] }],
              })),
            },
          },
        },
      },
    },
  });
}

async function service(rest: KubeRest, ns: string, app: string) {
  await rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    body: { metadata: { name: app }, spec: { selector: { app }, ports: [{ port: 80 }] } },
  });
}

async function zone(t: import('node:test').TestContext, prefix: string, n: number): Promise<Cluster> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
  const c = await startCluster(stage.rest(), { namespace: NS, zone: prefix, names, periodMs: PERIOD_MS });
  t.after(() => c.stop());
  // Every member judged healthy by the leader before the test cuts anything.
  await until('all healthy', 30_000, async () => {
    for (const m of names) if ((await outcome(stage.rest(), m)) !== 'healthy') return undefined;
    return true;
  });
  return c;
}

/** Decision lines the GM replicas logged with `msg`, parsed. */
function logged(msg: string): Record<string, unknown>[] {
  return stage.replicas().flatMap((r) =>
    readFileSync(stage.logFile(r.id), 'utf8')
      .split('\n')
      .filter((l) => l.includes(msg))
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

test('cut from the cloud, seen healthy by its peers (one lying): NotReady and unschedulable (the real scheduler places nothing new there), pods stay and stay ready in EndpointSlices', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'cc', 5);
  await service(rest, ns, 'web');
  await c.pod(ns, 'cc-1', 'web-1', 'web', TOLERATION_S);
  await c.pod(ns, 'cc-1', 'web-2', 'web', TOLERATION_S);
  await until('endpoints ready', 30_000, async () => {
    const e = await endpoints(rest, ns, 'web');
    return e.get('web-1') && e.get('web-2') ? true : undefined;
  });
  c.nodes.get('cc-5')?.lies.set('cc-1', 'unhealthy');
  c.cloud('cc-1', false);
  const n = await until('cc-1 NotReady and NoSchedule', 30_000, async () => {
    const n = await getNode(rest, 'cc-1');
    return notReady(n) && hasNoSchedule(n) ? n : undefined;
  });
  assert.equal(hasNoExecute(n), false, 'no NoExecute taint');
  // Unschedulable for the real kube-scheduler: a pod that may only go to cc-1 stays Pending
  // (Unschedulable), one that may go to cc-1 or cc-2 goes to cc-2.
  await newPod(rest, ns, 'only-cc-1', ['cc-1']);
  await newPod(rest, ns, 'cc-1-or-cc-2', ['cc-1', 'cc-2']);
  const placed = await until('the second new pod scheduled', 30_000, async () => {
    const p = await rest.request<KubeObject>('GET', `/api/v1/namespaces/${ns}/pods/cc-1-or-cc-2`);
    return p.spec?.nodeName as string | undefined;
  });
  assert.equal(placed, 'cc-2');
  const pending = await until('the first new pod found unschedulable', 30_000, async () => {
    const p = await rest.request<KubeObject>('GET', `/api/v1/namespaces/${ns}/pods/only-cc-1`);
    const c = (p.status?.conditions ?? []).find((x: { type: string }) => x.type === 'PodScheduled');
    return c?.reason === 'Unschedulable' ? p : undefined;
  });
  assert.equal(pending.spec?.nodeName, undefined);
  await Promise.all(
    ['only-cc-1', 'cc-1-or-cc-2'].map((p) => rest.request('DELETE', `/api/v1/namespaces/${ns}/pods/${p}`)),
  );
  // Past the pods' toleration, with margin: nothing evicted, nothing marked not ready.
  await sleep((TOLERATION_S + 6) * 1000);
  const after = await getNode(rest, 'cc-1');
  assert.ok(notReady(after) && hasNoSchedule(after), 'still NotReady and unschedulable');
  assert.equal(hasNoExecute(after), false);
  assert.equal(await outcome(rest, 'cc-1'), 'healthy');
  assert.match(after.metadata.annotations?.[TALLY_ANNOTATION] ?? '', /"against":1,"for":3/);
  const left = await pods(rest, ns);
  assert.deepEqual(left.map((p) => p.metadata.name).sort(), ['web-1', 'web-2']);
  assert.ok(left.every(podReady), 'pods still Ready');
  const e = await endpoints(rest, ns, 'web');
  assert.equal(e.get('web-1'), true);
  assert.equal(e.get('web-2'), true);
  assert.ok((await metricSum(stage.replicas(), 'fedmesh_gm_health_webhook_mutations_total{kind="node"}')) > 0);
});

test('cut from everyone (one peer lying that it is fine): pods evicted after their toleration', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'ce', 5);
  await service(rest, ns, 'web');
  await c.pod(ns, 'ce-1', 'web-1', 'web', TOLERATION_S);
  c.nodes.get('ce-5')?.lies.set('ce-1', 'healthy');
  const cutAt = Date.now();
  c.cloud('ce-1', false);
  c.isolate('ce-1', false);
  await until('ce-1 judged unhealthy', 30_000, async () =>
    (await outcome(rest, 'ce-1')) === 'unhealthy' ? true : undefined,
  );
  await until('web-1 evicted', 60_000, async () => ((await pods(rest, ns)).length === 0 ? true : undefined));
  // NotReady after the 5 s grace period, then the taint, then the toleration.
  assert.ok(Date.now() - cutAt >= TOLERATION_S * 1000, 'not before the toleration');
});

test('a tie (2 | 2 in a zone of 4): unknown, and Kubernetes alone decides — pods evicted after their toleration', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'ti', 4);
  await c.pod(ns, 'ti-1', 'web-1', 'web', TOLERATION_S);
  // ti-1 is cut from the cloud and from ti-3 and ti-4; ti-2 still reaches it and relays its view.
  // Votes on ti-1: ti-1 itself and ti-2 on one side, ti-3 and ti-4 on the other — no strict majority.
  c.link('ti-1', 'ti-3', false);
  c.link('ti-1', 'ti-4', false);
  const cutAt = Date.now();
  c.cloud('ti-1', false);
  await until('ti-1 unknown', 30_000, async () => ((await outcome(rest, 'ti-1')) === 'unknown' ? true : undefined));
  assert.equal(
    (await getNode(rest, 'ti-1')).metadata.annotations?.[TALLY_ANNOTATION],
    '{"against":2,"for":1,"outcome":"unknown","self":true,"voters":4}',
  );
  await until('web-1 evicted', 60_000, async () => ((await pods(rest, ns)).length === 0 ? true : undefined));
  assert.ok(Date.now() - cutAt >= TOLERATION_S * 1000, 'not before the toleration');
  for (const n of ['ti-2', 'ti-3', 'ti-4']) assert.equal(await outcome(rest, n), 'healthy');
});

test('forged, replayed and out-of-zone views change nothing and are logged', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const c = await zone(t, 'fz', 3);
  const outsider = await startCluster(rest, { namespace: NS, zone: 'fz-other', names: ['fzo-1'], periodMs: PERIOD_MS });
  t.after(() => outsider.stop());
  const before = (await getNode(rest, 'fz-3')).metadata.annotations?.[TALLY_ANNOTATION];
  // Out of zone: a node of another zone judges fz-3.
  (outsider.nodes.get('fzo-1') as { foreign: string[] }).foreign.push('fz-3');
  // Forged: fz-2 carries a view "by fz-1" that fz-2 signed with its own key.
  const { signView } = await import('../../mesh/health/view.ts');
  const fz1 = c.nodes.get('fz-1');
  const fz2 = c.nodes.get('fz-2');
  assert.ok(fz1?.last && fz2);
  const forged = await signView(
    {
      ...fz1.last.view,
      peerId: fz2.peerId,
      seq: fz1.seq + 1000,
      time: Date.now(),
      verdicts: { 'fz-3': { state: 'unhealthy', lastOkAt: null } },
    },
    fz2.key,
  );
  const inject = (node: string, data: Record<string, string>) =>
    rest.request('PATCH', `/api/v1/namespaces/${NS}/configmaps/fedmesh-health-${node}`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `fedmesh-health-${node}` }, data },
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'attacker', force: true },
    });
  await inject('fz-2', { 'relay.fz-1': new TextDecoder().decode(forged.bytes) });
  // Replayed from an old epoch: fz-1 restarts (epoch 2); its last epoch-1 view, still within the
  // allowed skew, is put back in its own ConfigMap.
  const epoch1 = fz1.last;
  fz1.epoch = 2;
  fz1.seq = 0;
  await sleep(2 * PERIOD_MS);
  await inject('fz-1', { view: new TextDecoder().decode(epoch1.bytes) });
  const series = (code: string) => `fedmesh_gm_health_views_total{result="${code}"}`;
  for (const code of ['ERR_VIEW_KEY_MISMATCH', 'ERR_VIEW_REPLAY', 'ERR_SUBJECT_OUTSIDE_ZONE']) {
    await until(`${code} counted`, 20_000, async () =>
      (await metricSum(stage.replicas(), series(code))) > 0 ? true : undefined,
    );
  }
  await sleep(3 * PERIOD_MS);
  for (const m of ['fz-1', 'fz-2', 'fz-3']) assert.equal(await outcome(rest, m), 'healthy', m);
  assert.equal(
    (await getNode(rest, 'fz-3')).metadata.annotations?.[TALLY_ANNOTATION],
    before,
    'tally of fz-3 unchanged',
  );
  const codes = new Set(logged('health view rejected').map((l) => l.code));
  for (const code of ['ERR_VIEW_KEY_MISMATCH', 'ERR_VIEW_REPLAY', 'ERR_SUBJECT_OUTSIDE_ZONE'])
    assert.ok(codes.has(code), code);
});

test('split 3 | 2, the 2 cut from the cloud: the 2 evicted; then all 5 cut from the cloud: the 3 keep their pods (held)', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'sp', 5);
  for (const n of ['sp-1', 'sp-4']) await c.pod(ns, n, `on-${n}`, 'web', TOLERATION_S);
  for (const a of ['sp-1', 'sp-2', 'sp-3']) for (const b of ['sp-4', 'sp-5']) c.link(a, b, false);
  for (const b of ['sp-4', 'sp-5']) c.cloud(b, false);
  await until('the 2 unhealthy', 30_000, async () =>
    (await outcome(rest, 'sp-4')) === 'unhealthy' && (await outcome(rest, 'sp-5')) === 'unhealthy' ? true : undefined,
  );
  for (const a of ['sp-1', 'sp-2', 'sp-3']) c.cloud(a, false);
  await until('on-sp-4 evicted', 60_000, async () =>
    (await pods(rest, ns)).some((p) => p.metadata.name === 'on-sp-4') ? undefined : true,
  );
  await until('sp-1 NotReady', 30_000, async () => (notReady(await getNode(rest, 'sp-1')) ? true : undefined));
  await sleep((TOLERATION_S + 6) * 1000);
  const left = await pods(rest, ns);
  assert.deepEqual(
    left.map((p) => p.metadata.name),
    ['on-sp-1'],
  );
  const d = parseDecision((await getNode(rest, 'sp-1')).metadata.annotations?.[DECISION_ANNOTATION]);
  assert.equal(d?.outcome, 'healthy');
  assert.equal(d?.held, true, 'the zone is silent: the last outcome is held');
});

test('leader failover while a node is cut from the cloud: no taint flapping, no eviction', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'fo', 4);
  await c.pod(ns, 'fo-1', 'web-1', 'web', TOLERATION_S);
  const seen = { noExecute: 0, outcomes: new Set<string>() };
  const ac = new AbortController();
  t.after(() => ac.abort());
  const watching = (async () => {
    while (!ac.signal.aborted) {
      const n = await getNode(rest, 'fo-1').catch(() => undefined);
      if (n) {
        if (hasNoExecute(n)) seen.noExecute++;
        seen.outcomes.add(parseDecision(n.metadata.annotations?.[DECISION_ANNOTATION])?.outcome ?? 'none');
      }
      await sleep(100, ac.signal);
    }
  })();
  c.cloud('fo-1', false);
  await until('fo-1 NotReady', 30_000, async () => (notReady(await getNode(rest, 'fo-1')) ? true : undefined));
  const lease = await rest.request<KubeObject>('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/gm`);
  const leader = stage.replicas().find((r) => r.id === lease.spec?.holderIdentity);
  assert.ok(leader, 'a leader');
  await leader.proc.stop('SIGKILL');
  await until('a new leader', 30_000, async () => {
    const l = await rest.request<KubeObject>('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/gm`);
    return l.spec?.holderIdentity && l.spec.holderIdentity !== leader.id ? true : undefined;
  });
  await sleep((TOLERATION_S + 6) * 1000);
  ac.abort();
  await watching;
  await stage.restart(leader.id);
  assert.equal(seen.noExecute, 0, 'never a NoExecute taint');
  assert.deepEqual([...seen.outcomes], ['healthy'], 'the decision never changed');
  assert.deepEqual(
    (await pods(rest, ns)).map((p) => p.metadata.name),
    ['web-1'],
  );
  assert.ok((await pods(rest, ns)).every(podReady));
});

test('webhook outage: the eviction taint and not-ready pods get through; once a GM is back the taint is removed and the pods are Ready again', async (t) => {
  await stage.ready();
  const rest = stage.rest();
  const ns = await stage.env.namespace(t);
  const c = await zone(t, 'wo', 4);
  await service(rest, ns, 'web');
  // A long toleration: the pod must outlive the outage (the taint gets on while no replica answers).
  await c.pod(ns, 'wo-1', 'web-1', 'web', 600);
  await until('endpoint ready', 30_000, async () =>
    (await endpoints(rest, ns, 'web')).get('web-1') ? true : undefined,
  );
  const ids = stage.replicas().map((r) => r.id);
  await Promise.all(stage.replicas().map((r) => r.proc.stop('SIGKILL')));
  c.cloud('wo-1', false);
  await until('NoExecute taint on and web-1 not ready (no webhook answered)', 30_000, async () => {
    const n = await getNode(rest, 'wo-1');
    const p = (await pods(rest, ns))[0];
    return hasNoExecute(n) && p && !podReady(p) ? true : undefined;
  });
  assert.equal((await endpoints(rest, ns, 'web')).get('web-1'), false);
  for (const id of ids) await stage.restart(id);
  await until('taint removed, web-1 Ready and ready in its EndpointSlice', 30_000, async () => {
    const n = await getNode(rest, 'wo-1');
    const p = (await pods(rest, ns))[0];
    return !hasNoExecute(n) && p && podReady(p) && (await endpoints(rest, ns, 'web')).get('web-1') ? true : undefined;
  });
  // The node lifecycle controller marks it again on the pod update; the webhook, back, keeps it Ready.
  await sleep(3_000);
  const p = (await pods(rest, ns))[0];
  assert.ok(p && podReady(p), 'still Ready');
  assert.ok(notReady(await getNode(rest, 'wo-1')), 'the node is still NotReady');
  assert.ok((await metricSum(stage.replicas(), 'fedmesh_gm_health_pods_restored_total')) >= 1);
});
