import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import {
  adminRest,
  create,
  dataset,
  federatedJob,
  HUB_ONLY,
  incrementalJob,
  mergePatch,
  nodeToken,
  rawFedmesh,
  startIncrementalJob,
  startTestLc,
  type TestLc,
  until,
} from './helpers.ts';

const env = useEnvtest();

test('three replicas, 50 LCs: each LC holds exactly its objects, and a change reaches exactly its target nodes', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  const nodes = Array.from({ length: 50 }, (_, i) => `edge-${i}`);
  for (const n of nodes) await create(rest, ns, 'Dataset', dataset(`ds-${n}`, n));
  await create(rest, ns, 'Model', { metadata: { name: 'initial-model' }, spec: { url: '/m/1', format: 'pb' } });
  await create(rest, ns, 'Model', { metadata: { name: 'deploy-model' }, spec: { url: '/m/2', format: 'pb' } });
  await create(rest, ns, 'Model', { metadata: { name: 'unused-model' }, spec: { url: '/m/3', format: 'pb' } });
  const jis = {
    metadata: { name: 'jis' },
    spec: {
      edgeWorker: {
        model: { name: 'm' },
        hardExampleMining: { name: 'IBT' },
        template: { spec: { nodeName: 'edge-3' } },
      },
      cloudWorker: { model: { name: 'm' }, template: { spec: {} } },
    },
  };
  await create(rest, ns, 'JointInferenceService', jis);
  await create(rest, ns, 'FederatedLearningJob', federatedJob('fl', ['edge-5', 'edge-6', 'edge-7']));
  await create(rest, ns, 'IncrementalLearningJob', incrementalJob('il', 'ds-edge-10', { 'sedna.io/Train': 'edge-11' }));
  await startIncrementalJob(rest, ns, 'il');
  // Sedna sends an IL job only once the GM's controller wrote its first condition.
  await create(rest, ns, 'IncrementalLearningJob', incrementalJob('il-idle', 'ds-edge-12'));

  const replicas = await Promise.all(
    ['a', 'b', 'c'].map((id) => startReplica(env.plane, { id, namespace: ns, readyz: 'replica', args: HUB_ONLY })),
  );
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  await until('replicas ready', 30_000, async () =>
    (await Promise.all(replicas.map((r) => r.readyz()))).every((c) => c === 200),
  );
  const urls = replicas.map((r) => `ws://127.0.0.1:${r.wsPort}/`);
  const tokens = await Promise.all(nodes.map((n) => nodeToken(rest, ns, n)));
  // Endpoint lists rotated per LC, so LCs spread over the three replicas.
  const lcs: TestLc[] = nodes.map((n, i) => startTestLc(n, [...urls.slice(i % 3), ...urls.slice(0, i % 3)], tokens[i]));
  t.after(() => Promise.all(lcs.map((l) => l.stop())));
  await until('every LC welcomed', 20_000, () => lcs.every((l) => l.welcomes.length > 0));
  const served = new Set(lcs.map((l) => l.welcomes.at(-1)?.replica));
  assert.deepEqual([...served].sort(), ['a', 'b', 'c'], 'LCs are spread over the replicas');

  const expected = (n: string): string[] => {
    const keys = [`Dataset/ds-${n}`];
    if (n === 'edge-3') keys.push('JointInferenceService/jis');
    if (['edge-5', 'edge-6', 'edge-7'].includes(n)) keys.push('FederatedLearningJob/fl');
    if (n === 'edge-10') keys.push('IncrementalLearningJob/il', 'Model/deploy-model', 'Model/initial-model');
    if (n === 'edge-11') keys.push('IncrementalLearningJob/il');
    return keys.sort();
  };
  const mismatches = () => lcs.filter((l) => JSON.stringify(l.keys().sort()) !== JSON.stringify(expected(l.node)));
  await until('every LC holds exactly its objects', 20_000, () => mismatches().length === 0).catch((err) => {
    const m = mismatches()[0];
    assert.fail(
      `${err.message}: ${m?.node} holds ${JSON.stringify(m?.keys())}, wants ${JSON.stringify(m && expected(m.node))}`,
    );
  });

  // Move one training worker from edge-7 to edge-8: edge-5/6 get the new version, edge-7 a delete,
  // edge-8 the object; nobody else hears of it.
  const mark = performance.now();
  await mergePatch(rest, ns, 'FederatedLearningJob', 'fl', federatedJob('fl', ['edge-5', 'edge-6', 'edge-8']));
  const touched = (name: string) =>
    lcs.filter((l) => l.applied.some((a) => a.at > mark && 'name' in a.op && a.op.name === name)).map((l) => l.node);
  await until('the change reached its four nodes', 10_000, () => touched('fl').length >= 4);
  const byNode = (n: string) => lcs.find((l) => l.node === n) as TestLc;
  await until(
    'edge-7 deleted it and edge-8 holds it',
    10_000,
    () =>
      !byNode('edge-7').keys().includes('FederatedLearningJob/fl') &&
      byNode('edge-8').keys().includes('FederatedLearningJob/fl'),
  );
  // Moving a Dataset re-routes the IL job that reads it and the job's models (Sedna: to the dataset node).
  const mark2 = performance.now();
  await mergePatch(rest, ns, 'Dataset', 'ds-edge-10', { spec: { nodeName: 'edge-13' } });
  await until(
    'the IL job and its models moved from edge-10 to edge-13',
    10_000,
    () =>
      byNode('edge-13').keys().includes('Model/initial-model') &&
      !byNode('edge-10').keys().includes('IncrementalLearningJob/il'),
  );
  await new Promise((r) => setTimeout(r, 500)); // anything misrouted would have arrived by now
  assert.deepEqual(touched('fl').sort(), ['edge-5', 'edge-6', 'edge-7', 'edge-8']);
  const touched2 = lcs
    .filter((l) => l.applied.some((a) => a.at > mark2))
    .map((l) => l.node)
    .sort();
  assert.deepEqual(touched2, ['edge-10', 'edge-13'], 'the dataset move reached exactly the old and new node');
  assert.deepEqual(byNode('edge-13').keys().sort(), [
    'Dataset/ds-edge-10',
    'Dataset/ds-edge-13',
    'IncrementalLearningJob/il',
    'Model/deploy-model',
    'Model/initial-model',
  ]);
  assert.deepEqual(byNode('edge-10').keys(), [], 'edge-10 keeps nothing: its dataset moved away');
  assert.deepEqual(
    byNode('edge-11').keys().sort(),
    ['Dataset/ds-edge-11', 'IncrementalLearningJob/il'],
    'the Train node keeps the job',
  );

  // The connection registry names the replica serving each node, in a Lease per node.
  type Leases = {
    items: Array<{ metadata: { annotations: Record<string, string> }; spec: { holderIdentity?: string } }>;
  };
  const leases = () =>
    rest.request<Leases>('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      query: { labelSelector: 'fedmesh.io/lc-connection=true' },
    });
  await until(
    'a held connection Lease per node',
    15_000,
    async () => (await leases()).items.filter((l) => l.spec.holderIdentity).length === 50,
  );
  for (const l of (await leases()).items) {
    const lc = byNode(l.metadata.annotations['fedmesh.io/node'] as string);
    assert.equal(l.spec.holderIdentity, lc.welcomes.at(-1)?.replica, `lease of ${lc.node}`);
  }
  const counted = await Promise.all(
    replicas.map(async (r) => {
      const m = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
      return Number(/^fedmesh_hub_connections\{dialect="fedmesh"\} (\d+)$/m.exec(m)?.[1]);
    }),
  );
  assert.equal(
    counted.reduce((a, b) => a + b, 0),
    50,
    'each replica counts the LCs it serves',
  );
});

test('a node that connects to another replica is closed (4409) on the replica it left', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  const replicas = await Promise.all(
    ['a', 'b'].map((id) =>
      startReplica(env.plane, { id, namespace: ns, readyz: 'replica', args: [...HUB_ONLY, '--lc-lease-renew', '1s'] }),
    ),
  );
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  await until('replicas ready', 30_000, async () =>
    (await Promise.all(replicas.map((r) => r.readyz()))).every((c) => c === 200),
  );
  const token = await nodeToken(rest, ns, 'edge-x');
  const [a, b] = replicas.map((r) => `ws://127.0.0.1:${r.wsPort}/`) as [string, string];
  const old = await rawFedmesh(a, 'edge-x', token);
  await until('welcomed by a', 5000, () => old.frames.some((f) => f.type === 'welcome'));
  await new Promise((r) => setTimeout(r, 300)); // a's connection Lease written
  const t0 = performance.now();
  const moved = await rawFedmesh(b, 'edge-x', token);
  t.after(() => moved.ws.terminate());
  const closed = await old.closed;
  assert.equal(closed.code, 4409);
  assert.ok(performance.now() - t0 < 5000);
  assert.ok(moved.frames.some((f) => f.type === 'welcome'));
  assert.equal(moved.ws.readyState, moved.ws.OPEN, 'the new connection stays');
});
