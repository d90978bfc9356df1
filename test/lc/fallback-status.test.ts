/**
 * Upstream in fallback against the real API server: outbox reports land as status through the edge
 * API (converted as the hub converts them), and the node restriction of deploy/lc-status-policy.yaml
 * (a ValidatingAdmissionPolicy on the LC identity, or the node's own as KubeEdge's cloudcore writes)
 * allows exactly what the hub's routing allows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeRest, isStatus, type KubeRest } from '../../common/kube/rest.ts';
import type { KubeObject } from '../../common/sedna/objects.ts';
import { createRouter } from '../../common/sedna/router.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import { KINDS, type Kind } from '../../common/wire/index.ts';
import { kindDefinition } from '../../crds/kinds.ts';
import { useEnvtest } from '../envtest/index.ts';
import { objectsUrl } from '../hub/helpers.ts';
import { applyExample, list, RESOURCES, runOperators, until } from '../operators/harness.ts';
import { startEdgeProxy } from './edge-proxy.ts';
import { applyStatusPolicy, lcApiToken, runFallback } from './fallback-helpers.ts';

const env = useEnvtest();
const E1 = 'edge-node-1';
const E2 = 'edge-node-2';
const DS1 = 'edge1-surface-defect-detection-dataset';
const FL = 'surface-defect-detection';

async function setup(t: import('node:test').TestContext) {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await applyExample(rest, ns, 'federated-learning-surface-defect.yaml');
  await applyExample(rest, ns, 'joint-inference-helmet-detection.yaml');
  await until(
    'labels',
    20_000,
    async () => (await list(rest, RESOURCES.FederatedLearningJob, ns, targetLabel(E2))).length === 1,
  );
  await until(
    'labels',
    20_000,
    async () => (await list(rest, RESOURCES.JointInferenceService, ns, targetLabel(E1))).length === 1,
  );
  await applyStatusPolicy(env, t, ns);
  return { ns, rest };
}

/** PUT the object's status unchanged as `who`: true when admitted, false when the policy denies (403). */
async function mayWrite(who: KubeRest, admin: KubeRest, ns: string, kind: Kind, name: string): Promise<boolean> {
  const obj = await admin.request<KubeObject>('GET', objectsUrl(ns, kind, name));
  // Schema validation runs before validating admission: the status written must be valid.
  const status = obj.status ?? (kind === 'Dataset' ? { numberOfSamples: 0 } : {});
  try {
    await who.request('PUT', `${objectsUrl(ns, kind, name)}/status`, { body: { ...obj, status } });
    return true;
  } catch (err) {
    if (isStatus(err, 403) || isStatus(err, 409)) return isStatus(err, 409);
    throw err;
  }
}

test('reports land as status through the edge API; one that needs another node’s write waits for a GM', async (t) => {
  const { ns, rest } = await setup(t);
  const proxy = await startEdgeProxy(env.plane);
  t.after(() => proxy.close());
  const fb = runFallback(t, { node: E1, url: proxy.url, namespace: ns }, await lcApiToken(rest, ns, E1));
  await until('synced', 20_000, () => fb.fallback.status().synced);
  const at = '2026-01-01T00:00:00.000Z';
  fb.store.enqueue({
    kind: 'Dataset',
    namespace: ns,
    name: DS1,
    status: { numberOfSamples: 7 },
    reportedAt: at,
    coalesce: true,
  });
  fb.store.enqueue({
    kind: 'FederatedLearningJob',
    namespace: ns,
    name: FL,
    status: { output: { ownerInfo: { currentRound: 3, updateTime: at } } },
    reportedAt: at,
    coalesce: false,
  });
  fb.fallback.kick();
  await until('written', 20_000, () => fb.store.outboxSize() === 0);
  const ds = await rest.request<KubeObject>('GET', objectsUrl(ns, 'Dataset', DS1));
  assert.deepEqual(ds.status, { numberOfSamples: 7, updateTime: at });
  const fl = await rest.request<KubeObject>('GET', objectsUrl(ns, 'FederatedLearningJob', FL));
  const conds = (fl.status as { conditions?: Array<{ type: string; message: string }> }).conditions ?? [];
  assert.ok(conds.some((c) => c.type === 'Training' && c.message === `Round 3 reaches at ${at}`));
  assert.equal(fb.fallback.status().reportsWritten, 2);

  // The aggregation Model's metrics are not edge-node-1's to write: the report waits for a GM.
  fb.store.enqueue({
    kind: 'FederatedLearningJob',
    namespace: ns,
    name: FL,
    status: { output: { models: [{ metrics: { accuracy: 0.9 } }] } },
    reportedAt: at,
    coalesce: false,
  });
  fb.fallback.kick();
  await until('waiting for a gm', 20_000, () => fb.fallback.status().reportsWaitingForGm === 1);
  assert.equal(fb.store.outboxSize(), 1);
});

test('node restriction: the admission policy and the hub’s routing agree for every identity and object', async (t) => {
  const { ns, rest } = await setup(t);
  // A per-node ServiceAccount (LCs not started by a kubelet) bound to the same role.
  await rest.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    body: {
      metadata: { name: 'lc-per-node' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `fedmesh-lc-fallback-${ns}` },
      subjects: [
        { kind: 'ServiceAccount', name: `lc-${E1}`, namespace: ns },
        // An edge node's own identity, as cloudcore writes what its metaServer forwards.
        { kind: 'User', name: `system:node:${E2}`, apiGroup: 'rbac.authorization.k8s.io' },
      ],
    },
  });
  const identities: Array<{ name: string; node: string | undefined; rest: KubeRest }> = [];
  for (const [name, node, sa] of [
    ['daemonset token on edge-node-1', E1, 'lc'],
    ['daemonset token on edge-node-2', E2, 'lc'],
    ['per-node ServiceAccount lc-edge-node-1', E1, `lc-${E1}`],
  ] as const) {
    const r = await createKubeRest(env.plane.tokenKubeConfig(await lcApiToken(rest, ns, node, sa)));
    t.after(() => r.close());
    identities.push({ name, node, rest: r });
  }
  const kc = new KubeConfig();
  kc.loadFromFile(await env.plane.userKubeconfig(`system:node:${E2}`, ['system:nodes']));
  const nodeRest = await createKubeRest(kc);
  t.after(() => nodeRest.close());
  identities.push({ name: `node identity system:node:${E2} (metaServer through cloudcore)`, node: E2, rest: nodeRest });
  // The hub's view: a router over the current objects (the same code routes downstream frames).
  const objects = new Map<string, KubeObject>();
  for (const kind of KINDS) {
    const items = await rest.request<{ items: KubeObject[] }>(
      'GET',
      `/apis/sedna.io/v1alpha1/namespaces/${ns}/${kindDefinition(kind).plural}`,
    );
    for (const o of items.items) objects.set(`${kind}/${ns}/${o.metadata.name}`, o);
  }
  const router = createRouter({ get: (k, n, name) => objects.get(`${k}/${n}/${name}`) });
  for (const [key, o] of objects) router.update(key.split('/')[0] as Kind, ns, o.metadata.name, o);

  // The policy takes a moment to be enforced after creation.
  const e2 = identities[1] as (typeof identities)[number];
  await until('policy enforced', 30_000, async () => !(await mayWrite(e2.rest, rest, ns, 'Dataset', DS1)));
  const rows: string[] = [];
  for (const id of identities) {
    for (const [key] of objects) {
      const [kind, , name] = key.split('/') as [Kind, string, string];
      const hub = id.node !== undefined && router.routes(key, id.node);
      const policy = await mayWrite(id.rest, rest, ns, kind, name);
      rows.push(`${id.name} ${key}: hub ${hub} policy ${policy}`);
      assert.equal(policy, hub, `${id.name} writing ${key}: the policy and the hub agree`);
    }
  }
  t.diagnostic(rows.join('\n'));
  assert.ok(
    rows.some((r) => r.endsWith('hub true policy true')),
    'some writes are allowed',
  );
  assert.ok(
    rows.some((r) => r.endsWith('hub false policy false')),
    'some writes are denied',
  );

  // The DaemonSet's ServiceAccount with a token bound to no pod has no node: denied, with the reason.
  const tr = await rest.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/lc/token`,
    {
      body: { spec: { expirationSeconds: 3600 } },
    },
  );
  const noNode = await createKubeRest(env.plane.tokenKubeConfig(tr.status.token));
  t.after(() => noNode.close());
  await assert.rejects(
    async () => {
      const obj = await rest.request<KubeObject>('GET', objectsUrl(ns, 'Dataset', DS1));
      await noNode.request('PUT', `${objectsUrl(ns, 'Dataset', DS1)}/status`, {
        body: { ...obj, status: { numberOfSamples: 1 } },
      });
    },
    (err: Error) => isStatus(err, 403) && /bound to a pod on a node/.test(err.message),
  );
});
