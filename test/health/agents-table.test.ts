/**
 * The table with real node agents (netlab, root): four `fedmesh mesh` processes on one LAN publish
 * their views; a real kube-controller-manager (node lifecycle, taint eviction, EndpointSlices) and
 * kube-scheduler; one `fedmesh gm --health` replica whose webhook the API server calls through
 * deploy/health.yaml's Service. The node Leases are renewed by the test (the kubelets' heartbeat)
 * while a node's cloud link is up. One node's cloud link alone is cut (its heartbeat stops, its
 * agent's API traffic is dropped in its host; the mesh LAN stays): it turns NotReady and
 * unschedulable, its pod is not evicted past its toleration and stays ready in its EndpointSlice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { issueCert } from '../../controlplane/certs.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import { DECISION_ANNOTATION, parseDecision } from '../../gm/health/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { createMeshLab, MESH_PORT, type NodeName } from '../mesh/harness.ts';
import { CONTROLLER_ARGS, getNode, nodeObject, renewLease, runningPod, setReady, until } from './harness.ts';
import { AGGREGATOR_ROUTING, registerServiceWebhooks } from './webhook-service.ts';

const NODES: NodeName[] = ['r1', 'r2', 'r3', 'c'];
const CUT: NodeName = 'c';
const NS = 'sedna';
const TOLERATION_S = 6;

test('real agents, cloud link cut while the peers still reach the node: NotReady and unschedulable, its pod stays and stays ready', async (t) => {
  const m = await createMeshLab({ nodes: NODES, flat: true });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({
    bindAddress: root.ip,
    controllers: ['node-lifecycle-controller', 'taint-eviction-controller', 'endpointslice-controller'],
    controllerArgs: CONTROLLER_ARGS,
    scheduler: true,
    apiserverArgs: [AGGREGATOR_ROUTING],
  });
  t.after(() => plane.stop());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
  // No ServiceAccount controller here: the pods' default account by hand.
  await rest.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { body: { metadata: { name: 'default' } } });
  for (const n of NODES) await nodeObject(rest, n, { 'fedmesh.io/topology-zone': 'z1' });
  // The kubelets' heartbeat, while their cloud link is up.
  const cloud = new Set<string>(NODES);
  const beat = new AbortController();
  t.after(() => beat.abort());
  const heartbeats = (async () => {
    while (!beat.signal.aborted) {
      for (const n of cloud) await Promise.all([renewLease(rest, n), setReady(rest, n, true)]).catch(() => {});
      await sleep(1_000, beat.signal);
    }
  })();
  t.after(() => heartbeats);
  await rest.request('POST', `/api/v1/namespaces/${NS}/configmaps`, {
    body: {
      metadata: { name: 'fedmesh-health' },
      data: {
        'health.yaml': 'period: 1s\ntimeout: 500ms\nwindow: 3s\nfailureThreshold: 2\nzones: { enabled: true }\n',
      },
    },
  });
  const cert = await issueCert(
    plane.dir,
    'health-webhook',
    { cn: 'fedmesh-health-webhook' },
    { server: { ips: [root.ip], dns: ['gm-health-webhook.sedna.svc'] } },
  );
  const port = await freePort();
  const gm = await startReplica(plane, {
    id: 'gm-0',
    namespace: NS,
    args: [
      '--no-operators',
      '--health',
      '--health-tick',
      '500ms',
      '--health-window',
      '4s',
      '--health-max-skew',
      '5s',
      '--health-webhook-listen',
      `${root.ip}:${port}`,
      '--health-webhook-cert',
      cert.cert,
      '--health-webhook-key',
      cert.key,
    ],
  });
  t.after(() => gm.proc.stop('SIGKILL'));
  await registerServiceWebhooks(rest, plane.dir, [{ ip: root.ip, port }]);

  const health = { period: '5s', publish: { namespace: NS, kubeconfig: plane.kubeconfigPath } };
  const bootstrap = (self: NodeName) => NODES.filter((n) => n !== self).map((n) => `${m.addr(n)}:${MESH_PORT}`);
  for (const n of NODES) await m.start(n, { config: m.config([], { health, dhtBootstrap: bootstrap(n) }) });
  const outcome = async (n: string) =>
    parseDecision((await getNode(rest, n)).metadata.annotations?.[DECISION_ANNOTATION])?.outcome;
  let seen: Record<string, string | undefined> = {};
  await until('all four annotated healthy', 120_000, async () => {
    seen = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await outcome(n)] as const)));
    return NODES.every((n) => seen[n] === 'healthy') ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last outcomes ${JSON.stringify(seen)}`);
  });
  await rest.request('POST', `/api/v1/namespaces/${NS}/services`, {
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
  });
  await runningPod(rest, NS, CUT, 'web-1', 'web', TOLERATION_S);
  const ready = async () => {
    const slices = await rest.request<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
      'GET',
      `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
      { query: { labelSelector: 'kubernetes.io/service-name=web' } },
    );
    return slices.items.flatMap((s) => s.endpoints ?? []).some((e) => e.conditions?.ready === true);
  };
  await until('web-1 ready in its EndpointSlice', 30_000, async () => ((await ready()) ? true : undefined));

  // The cloud link alone: no heartbeat, the agent's API traffic dropped in its host; the LAN stays.
  cloud.delete(CUT);
  const host = m.host(CUT);
  await host.exec('nft', ['add', 'table', 'inet', 'fmcloud']);
  await host.exec('nft', ['add chain inet fmcloud out { type filter hook output priority 0 ; }']);
  await host.exec('nft', ['add', 'rule', 'inet', 'fmcloud', 'out', 'ip', 'daddr', root.ip, 'drop']);
  const taints = (n: KubeObject): { key: string; effect: string }[] => n.spec?.taints ?? [];
  const n = await until('c NotReady with the NoSchedule taint', 60_000, async () => {
    const n = await getNode(rest, CUT);
    const notReady = (n.status?.conditions ?? []).some(
      (c: { type: string; status: string }) => c.type === 'Ready' && c.status !== 'True',
    );
    return notReady && taints(n).some((t) => t.effect === 'NoSchedule') ? n : undefined;
  });
  assert.equal(
    taints(n).some((t) => t.effect === 'NoExecute'),
    false,
  );
  await sleep((TOLERATION_S + 6) * 1000);
  const after = await getNode(rest, CUT);
  assert.equal(
    taints(after).some((t) => t.effect === 'NoExecute'),
    false,
    'no NoExecute taint',
  );
  assert.equal(await outcome(CUT), 'healthy', 'its peers vouch for it');
  const pod = await rest.request<KubeObject>('GET', `/api/v1/namespaces/${NS}/pods/web-1`);
  assert.equal(pod.metadata.deletionTimestamp, undefined, 'not evicted');
  assert.equal(await ready(), true, 'still ready in its EndpointSlice');
});
