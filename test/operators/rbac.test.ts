import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { createKubeRest } from '../../common/kube/rest.ts';
import { recordEvent } from '../../gm/events.ts';
import { useEnvtest } from '../envtest/index.ts';
import { applyExample, get, list, RESOURCES, runOperators, until } from './harness.ts';

const env = useEnvtest();
const MANIFEST = join(import.meta.dirname, '..', '..', 'deploy', 'gm-rbac.yaml');

const PATHS: Record<string, (ns?: string) => string> = {
  Namespace: () => '/api/v1/namespaces',
  ServiceAccount: (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`,
  ClusterRole: () => '/apis/rbac.authorization.k8s.io/v1/clusterroles',
  ClusterRoleBinding: () => '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  Role: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
  RoleBinding: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
};

test('deploy/gm-rbac.yaml grants the operators what they use: they run as ServiceAccount sedna/sedna', async (t) => {
  const admin = await createKubeRest(env.kubeConfig());
  t.after(() => admin.close());
  const docs = JSON.parse(JSON.stringify(loadAllYaml(readFileSync(MANIFEST, 'utf8')))) as {
    kind: string;
    metadata: { namespace?: string };
  }[];
  for (const d of docs) {
    const path = PATHS[d.kind];
    assert.ok(path, `a path for ${d.kind}`);
    await admin.request('POST', path(d.metadata.namespace), { body: d });
  }
  // What a real cluster's controllers would add: the namespace's default ServiceAccount.
  await admin.request('POST', '/api/v1/namespaces/sedna/serviceaccounts', { body: { metadata: { name: 'default' } } });
  const { status } = await admin.request<{ status: { token: string } }>(
    'POST',
    '/api/v1/namespaces/sedna/serviceaccounts/sedna/token',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } } },
  );

  const ns = 'sedna';
  await runOperators(env, t, ns, {}, { kc: env.plane.tokenKubeConfig(status.token) });
  await applyExample(admin, ns, 'joint-inference-helmet-detection.yaml');
  await applyExample(admin, ns, 'federated-learning-surface-defect.yaml');
  await until('JointInferenceService Running', 20_000, async () => {
    const j = await get(admin, RESOURCES.JointInferenceService, ns, 'helmet-detection-inference-example');
    return j?.status?.conditions?.at(-1)?.type === 'Running';
  });
  await until('FederatedLearningJob pods', 20_000, async () => (await list(admin, RESOURCES.Pod, ns)).length === 3);
  await until('FederatedLearningJob status', 20_000, async () => {
    const j = await get(admin, RESOURCES.FederatedLearningJob, ns, 'surface-defect-detection');
    return j?.status?.phase === 'Pending';
  });
  assert.equal((await list(admin, RESOURCES.Deployment, ns)).length, 2);
  assert.equal((await list(admin, RESOURCES.Service, ns)).length, 2);

  // Events on Sedna objects go to the object's namespace (e.g. PodCreationFailed): any namespace.
  const other = 'rbac-events';
  await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name: other } } });
  const gm = await createKubeRest(env.plane.tokenKubeConfig(status.token));
  t.after(() => gm.close());
  await recordEvent(
    gm,
    {
      namespace: other,
      involved: { apiVersion: 'sedna.io/v1alpha1', kind: 'FederatedLearningJob', name: 'x' },
      reason: 'PodCreationFailed',
      message: 'rbac check',
      type: 'Warning',
      instance: 'test',
    },
    AbortSignal.timeout(10_000),
  );
});
