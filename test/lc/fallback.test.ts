/**
 * The LC's edge API fallback against the real API server, with the real GM operators (leader,
 * fenced) keeping the per-node target labels: only the node's objects reach it, changes, moves and
 * deletes follow, a 410 storm and a silent watch lose nothing, a wrong credential changes nothing,
 * and an endpoint ignoring the selector is filtered on the node. Status: test/lc/fallback-status.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { targetLabel } from '../../common/sedna/targets.ts';
import { useEnvtest } from '../envtest/index.ts';
import { mergePatch } from '../hub/helpers.ts';
import { applyExample, list, RESOURCES, runOperators, until } from '../operators/harness.ts';
import { startEdgeProxy } from './edge-proxy.ts';
import { applyStatusPolicy, lcApiToken, names, runFallback } from './fallback-helpers.ts';

const env = useEnvtest();
const E1 = 'edge-node-1';
const E2 = 'edge-node-2';
const FL_FILE = 'federated-learning-surface-defect.yaml';
const JI_FILE = 'joint-inference-helmet-detection.yaml';

test('with the GM leader labelling, the fallback sees its node’s objects only and follows changes, moves and deletes', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await applyExample(rest, ns, FL_FILE); // datasets on edge-node-1 and -2, an FL job on both
  await applyExample(rest, ns, JI_FILE); // a JI service with its edge worker on edge-node-1
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
  const proxy = await startEdgeProxy(env.plane);
  t.after(() => proxy.close());

  const token = await lcApiToken(rest, ns, E1);
  const fb = runFallback(t, { node: E1, url: proxy.url, namespace: ns }, token);
  const want = [
    'Dataset/edge1-surface-defect-detection-dataset',
    'FederatedLearningJob/surface-defect-detection',
    'JointInferenceService/helmet-detection-inference-example',
  ];
  await until('synced', 20_000, () => fb.fallback.status().synced);
  assert.deepEqual(names(fb.store), want, 'its node’s objects, the FL job spanning two nodes included');
  const st = fb.fallback.status();
  assert.equal(st.objectsReceived, 3, 'nothing of other nodes was received');
  assert.equal(st.objectsFilteredOut, 0);
  assert.ok(st.bytesReceived > 0);
  const filteredBytes = st.bytesReceived;

  // A change, a move onto this node, a move away, a delete: each reaches the store.
  await mergePatch(rest, ns, 'Dataset', 'edge1-surface-defect-detection-dataset', { spec: { format: 'csv' } });
  await until('change', 20_000, () => {
    const o = fb.store.getObject('Dataset', ns, 'edge1-surface-defect-detection-dataset');
    return (o?.object.spec as { format?: string } | undefined)?.format === 'csv';
  });
  await mergePatch(rest, ns, 'Dataset', 'edge2-surface-defect-detection-dataset', { spec: { nodeName: E1 } });
  await until('moved here', 20_000, () => names(fb.store).includes('Dataset/edge2-surface-defect-detection-dataset'));
  await mergePatch(rest, ns, 'Dataset', 'edge1-surface-defect-detection-dataset', {
    spec: { nodeName: 'edge-node-3' },
  });
  await until('moved away', 20_000, () => !names(fb.store).includes('Dataset/edge1-surface-defect-detection-dataset'));
  await rest.request(
    'DELETE',
    `/apis/sedna.io/v1alpha1/namespaces/${ns}/jointinferenceservices/helmet-detection-inference-example`,
  );
  await until('deleted', 20_000, () => !names(fb.store).some((n) => n.startsWith('JointInferenceService/')));
  assert.deepEqual(names(fb.store), [
    'Dataset/edge2-surface-defect-detection-dataset',
    'FederatedLearningJob/surface-defect-detection',
  ]);

  // Through https with the API server's CA too (the cloud API server over another route).
  const direct = runFallback(
    t,
    { node: E2, url: env.plane.server, namespace: ns, caFile: join(env.plane.dir, 'ca.crt') },
    await lcApiToken(rest, ns, E2),
  );
  await until('direct synced', 20_000, () => direct.fallback.status().synced);
  assert.deepEqual(names(direct.store), ['FederatedLearningJob/surface-defect-detection']);
  t.diagnostic(`filtered list bytes for ${E1}: ${filteredBytes}`);
});

test('a 410 storm, a silent watch and a selector-ignoring endpoint lose nothing; a wrong credential changes nothing', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await applyExample(rest, ns, FL_FILE);
  await until('labels', 20_000, async () => (await list(rest, RESOURCES.Dataset, ns, targetLabel(E1))).length === 1);
  await until(
    'labels',
    20_000,
    async () => (await list(rest, RESOURCES.FederatedLearningJob, ns, targetLabel(E1))).length === 1,
  );
  await applyStatusPolicy(env, t, ns);
  const proxy = await startEdgeProxy(env.plane);
  t.after(() => proxy.close());
  const token = await lcApiToken(rest, ns, E1);
  const fb = runFallback(t, { node: E1, url: proxy.url, namespace: ns, watchIdleMs: 1000 }, token);
  await until('synced', 20_000, () => fb.fallback.status().synced);
  const before = names(fb.store);
  assert.equal(before.length, 2);

  // 410 storm: the endpoint restarts and refuses the next 30 watches (5 per kind) with 410 Gone;
  // a change made meanwhile still arrives, through the relists.
  const goneBefore = fb.fallback.status().gone;
  proxy.mode.goneWatches = 30;
  await mergePatch(rest, ns, 'Dataset', 'edge1-surface-defect-detection-dataset', { spec: { format: 'csv' } });
  proxy.cut();
  await until('storm over', 30_000, () => proxy.mode.goneWatches === 0);
  assert.ok(fb.fallback.status().gone >= goneBefore + 30, 'every 410 led to a relist');
  await until('change after the storm', 30_000, () => {
    const o = fb.store.getObject('Dataset', ns, 'edge1-surface-defect-detection-dataset');
    return (o?.object.spec as { format?: string } | undefined)?.format === 'csv';
  });
  assert.deepEqual(names(fb.store), before, 'no object lost');

  // Silent watches: restarted after the idle time; the change made while silent arrives once they talk again.
  proxy.mode.silentWatches = true;
  proxy.cut();
  const idleBefore = fb.fallback.status().idleRestarts;
  await until('idle restarts', 20_000, () => fb.fallback.status().idleRestarts >= idleBefore + 6);
  await mergePatch(rest, ns, 'Dataset', 'edge1-surface-defect-detection-dataset', { spec: { format: 'json' } });
  proxy.mode.silentWatches = false;
  await until('change after the silence', 20_000, () => {
    const o = fb.store.getObject('Dataset', ns, 'edge1-surface-defect-detection-dataset');
    return (o?.object.spec as { format?: string } | undefined)?.format === 'json';
  });
  assert.deepEqual(names(fb.store), before);

  // An endpoint that ignores the selector: everything comes, only this node's objects are kept.
  proxy.mode.ignoreSelector = true;
  const open = runFallback(t, { node: E1, url: proxy.url, namespace: ns }, token);
  await until('unfiltered synced', 20_000, () => open.fallback.status().synced);
  assert.deepEqual(names(open.store), before);
  const os = open.fallback.status();
  assert.equal(os.selectorIgnored, true);
  assert.ok(os.objectsFilteredOut >= 2, `filtered ${os.objectsFilteredOut}`);
  proxy.mode.ignoreSelector = false;

  // A wrong credential: a clear error, nothing in the store.
  const wrong = runFallback(t, { node: E1, url: proxy.url, namespace: ns }, 'not-a-token');
  await until('auth error', 20_000, () => wrong.fallback.status().lastError !== undefined);
  assert.equal(wrong.fallback.status().lastError?.code, 'ERR_EDGE_API_AUTH');
  assert.deepEqual(names(wrong.store), []);
  // A valid identity without RBAC for Sedna kinds: refused too (403), also ERR_EDGE_API_AUTH.
  const stranger = runFallback(
    t,
    { node: E1, url: proxy.url, namespace: ns },
    await lcApiToken(rest, ns, E1, 'stranger'),
  );
  await until('forbidden', 20_000, () => stranger.fallback.status().lastError !== undefined);
  assert.equal(stranger.fallback.status().lastError?.code, 'ERR_EDGE_API_AUTH');
  assert.deepEqual(names(stranger.store), []);
});
