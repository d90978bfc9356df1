/**
 * Real node agents to the GM (netlab, root): four `fedmesh mesh` processes on one LAN probe each
 * other, publish their views to the API (health `publish`), and a `fedmesh gm --health` replica
 * on the host decides. All four are annotated healthy; one host's link is cut (mesh and cloud):
 * its peers' views reach the GM through their own ConfigMaps and it is annotated unhealthy;
 * restored, healthy again. The agents take their zones from the Node labels and their timing and
 * zones switch from ConfigMap fedmesh-health (their config files say zones off and a 5 s period):
 * the GM takes its zones from the same ConfigMap (its flags say zones off) and judges by the same
 * labels, so any other zone id in a view would be refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKubeRest } from '../../common/kube/rest.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import { DECISION_ANNOTATION, PEER_ANNOTATION, parseDecision, TALLY_ANNOTATION } from '../../gm/health/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { createMeshLab, MESH_PORT, type MeshProc, type NodeName, until } from '../mesh/harness.ts';
import { getNode, nodeObject } from './harness.ts';

const NODES: NodeName[] = ['r1', 'r2', 'r3', 'c'];
const CUT: NodeName = 'c';
const NS = 'fedmesh-health';

test('real agents publish their views; the GM annotates a cut node unhealthy and healthy again once back', async (t) => {
  const m = await createMeshLab({ nodes: NODES, flat: true });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
  for (const n of NODES) await nodeObject(rest, n, { 'fedmesh.io/topology-zone': 'z1' });
  await rest.request('POST', `/api/v1/namespaces/${NS}/configmaps`, {
    body: {
      metadata: { name: 'fedmesh-health' },
      data: {
        'health.yaml': 'period: 1s\ntimeout: 500ms\nwindow: 3s\nfailureThreshold: 2\nzones: { enabled: true }\n',
      },
    },
  });
  const gm = await startReplica(plane, {
    id: 'gm-0',
    namespace: NS,
    args: [
      '--no-operators',
      '--health',
      // No --health-zones: the GM takes the zones from the same ConfigMap as the agents.
      '--health-tick',
      '500ms',
      '--health-window',
      '4s',
      '--health-max-skew',
      '5s',
    ],
  });
  t.after(() => gm.proc.stop('SIGKILL'));

  // The file's values (zones off, 5 s): the ConfigMap's replace them once read.
  const health = { period: '5s', publish: { namespace: NS, kubeconfig: plane.kubeconfigPath } };
  const bootstrap = (self: NodeName) => NODES.filter((n) => n !== self).map((n) => `${m.addr(n)}:${MESH_PORT}`);
  const procs: MeshProc[] = [];
  for (const n of NODES) {
    procs.push(await m.start(n, { config: m.config([], { health, dhtBootstrap: bootstrap(n) }) }));
  }
  const outcome = async (n: string) =>
    parseDecision((await getNode(rest, n)).metadata.annotations?.[DECISION_ANNOTATION])?.outcome;
  const all = (want: (n: NodeName) => string) => async () => {
    for (const n of NODES) if ((await outcome(n)) !== want(n)) return undefined;
    return true;
  };
  await until(
    'all four annotated healthy',
    all(() => 'healthy'),
    90_000,
  );
  // Each key pinned from the node's first own view (the last node started may still be on its way).
  await until(
    'every key pinned',
    async () => {
      for (const n of NODES) if (!(await getNode(rest, n)).metadata.annotations?.[PEER_ANNOTATION]) return undefined;
      return true;
    },
    30_000,
  );

  await m.host(CUT).cutLink('pub');
  const t0 = Date.now();
  await until(
    'the cut node annotated unhealthy',
    all((n) => (n === CUT ? 'unhealthy' : 'healthy')),
    60_000,
  );
  t.diagnostic(`cut node annotated unhealthy after ${Date.now() - t0} ms`);
  assert.match((await getNode(rest, CUT)).metadata.annotations?.[TALLY_ANNOTATION] ?? '', /"against":3/);

  await m.host(CUT).restoreLink('pub');
  await until(
    'all four healthy again',
    all(() => 'healthy'),
    90_000,
  );
});
