/**
 * deploy/health.yaml against a real API server: a node agent's pod-bound token (ServiceAccount
 * sedna/lc, `authentication.kubernetes.io/node-name`) writes its own views ConfigMap and no other
 * node's — the fact the GM's key pinning rests on (docs/adr/0006-health-views-to-the-cloud.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { sleep } from '../../common/async.ts';
import { collectionPath, type KubeObject } from '../../common/kube/objects.ts';
import { createKubeRest, isStatus, type KubeRest } from '../../common/kube/rest.ts';
import { viewsConfigMap } from '../../mesh/health/publisher.ts';
import { useEnvtest } from '../envtest/index.ts';
import { daemonSetToken } from '../hub/helpers.ts';
import { nodeObject } from './harness.ts';

const env = useEnvtest();
const FILE = join(import.meta.dirname, '..', '..', 'deploy', 'health.yaml');
const PLURALS: Record<string, { group: string; version: string; plural: string; namespaced: boolean }> = {
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  ValidatingAdmissionPolicy: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingadmissionpolicies',
    namespaced: false,
  },
  ValidatingAdmissionPolicyBinding: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  MutatingWebhookConfiguration: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
};

const write = (rest: KubeRest, node: string, label = node) => {
  const cm = viewsConfigMap(node, 'sedna', { peers: new Map() }) as unknown as KubeObject;
  cm.metadata.labels = { 'fedmesh.io/health-node': label };
  return rest.request('PATCH', `/api/v1/namespaces/sedna/configmaps/${cm.metadata.name}`, {
    body: cm,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'fedmesh-mesh-health', force: true },
  });
};

test('deploy/health.yaml applies; a node agent writes its own views ConfigMap and no other node’s', async (t) => {
  const admin = await createKubeRest(env.kubeConfig());
  t.after(() => admin.close());
  await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name: 'sedna' } } });
  await admin.request('POST', '/api/v1/namespaces/sedna/serviceaccounts', { body: { metadata: { name: 'sedna' } } });
  const objects = JSON.parse(JSON.stringify(loadAllYaml(readFileSync(FILE, 'utf8')))) as KubeObject[];
  for (const o of objects) {
    const r = PLURALS[o.kind ?? ''];
    assert.ok(r, `known kind ${o.kind}`);
    await admin.request(
      'POST',
      collectionPath({ ...r, kind: o.kind ?? '' }, r.namespaced ? o.metadata.namespace : undefined),
      {
        body: o,
      },
    );
  }
  for (const n of ['edge-a', 'edge-b']) await nodeObject(admin, n, {});
  const agent = await createKubeRest(env.plane.tokenKubeConfig(await daemonSetToken(admin, 'sedna', 'edge-a')));
  t.after(() => agent.close());

  // RBAC first: the own write goes through once the binding is in force.
  for (let i = 0; ; i++) {
    try {
      await write(agent, 'edge-a');
      break;
    } catch (err) {
      if (i > 100) throw err;
      await sleep(100);
    }
  }
  // The policy takes a moment to be enforced after its creation: retry until the foreign write is refused.
  let refused: unknown;
  for (let i = 0; i < 100 && !refused; i++) {
    try {
      await write(agent, 'edge-b');
      await admin.request('DELETE', '/api/v1/namespaces/sedna/configmaps/fedmesh-health-edge-b');
      await sleep(100);
    } catch (err) {
      refused = err;
    }
  }
  assert.ok(isStatus(refused, 403) || isStatus(refused, 422), `refused: ${String(refused)}`);
  assert.match(String((refused as Error).message), /may write only ConfigMap fedmesh-health-edge-a/);
  await assert.rejects(write(agent, 'edge-a', 'edge-b'), 'its own name with another node’s label');
  await write(agent, 'edge-a');
  const own = await admin.request<KubeObject>('GET', '/api/v1/namespaces/sedna/configmaps/fedmesh-health-edge-a');
  assert.equal(own.metadata.labels?.['fedmesh.io/health-node'], 'edge-a');
  await assert.rejects(admin.request('GET', '/api/v1/namespaces/sedna/configmaps/fedmesh-health-edge-b'), (err) =>
    isStatus(err, 404),
  );

  // The agent reads what it needs for zones and configuration (mesh/health/cluster.ts) and no more:
  // the Nodes, the health ConfigMap by name (list + watch), not every ConfigMap; it cannot change the configuration.
  const nodes = await agent.request<{ items: KubeObject[] }>('GET', '/api/v1/nodes');
  assert.ok(nodes.items.length >= 2);
  const cms = '/api/v1/namespaces/sedna/configmaps';
  const named = await agent.request<{ items: { data?: Record<string, string> }[] }>('GET', cms, {
    query: { fieldSelector: 'metadata.name=fedmesh-health' },
  });
  assert.match(named.items[0]?.data?.['health.yaml'] ?? '', /period: 5s/);
  await assert.rejects(agent.request('GET', cms), (err) => isStatus(err, 403));
  await assert.rejects(
    agent.request('PATCH', `${cms}/fedmesh-health`, {
      body: { data: { 'health.yaml': 'period: 1s' } },
      contentType: 'application/merge-patch+json',
    }),
    (err) => isStatus(err, 403) || isStatus(err, 422),
  );
});
