import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import {
  adminRest,
  create,
  dataset,
  get,
  HUB_ONLY,
  incrementalJob,
  nodeToken,
  startIncrementalJob,
  until,
} from '../hub/helpers.ts';

import { lcProcess } from './process.ts';

const env = useEnvtest();

test('an LC restarted with no GM reachable serves from its store, keeps its worker API, and delivers its outbox once a GM is back', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-1', 'edge-1'));
  await create(rest, ns, 'IncrementalLearningJob', incrementalJob('il-1', 'ds-1'));
  await startIncrementalJob(rest, ns, 'il-1');
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
  t.after(() => gm.proc.stop('SIGKILL'));
  const lcp = await lcProcess(t, { dir, token: await nodeToken(rest, ns, 'edge-1'), gmPorts: [gm.wsPort] });
  const { objects, metric, url: lcUrl } = lcp;

  let lc = await lcp.start();
  await until('the LC holds its objects', 20_000, async () => (await objects()).length === 2);
  lc.signal('SIGTERM');
  assert.equal(await lc.exited, 0, 'SIGTERM stops the LC cleanly');

  // No GM anywhere: the LC starts from its store alone.
  await gm.proc.stop('SIGKILL');
  lc = await lcp.start();
  await until(
    'the restarted LC answers',
    20_000,
    async () => (await fetch(`${lcUrl}/readyz`).catch(() => undefined))?.status === 200,
  );
  assert.deepEqual((await objects()).sort(), ['Dataset/ds-1', 'IncrementalLearningJob/il-1']);
  assert.equal(await metric('fedmesh_lc_gm_connected'), 0);
  for (let i = 1; i <= 3; i++) {
    const r = await fetch(`${lcUrl}/sedna/workers/train-worker/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'train-worker',
        namespace: ns,
        ownerName: 'il-1',
        ownerKind: 'incrementallearningjob',
        kind: 'train',
        status: 'completed',
        results: [{ format: 'pb', url: `/output/model-${i}` }],
      }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { Status: 200, Message: 'OK' });
  }
  assert.equal(await metric('fedmesh_lc_outbox_reports'), 3, 'the reports wait in the outbox');

  // A GM comes back where the LC looks for it: the outbox drains into the API, in order.
  const again = await startReplica(env.plane, {
    id: 'b',
    namespace: ns,
    readyz: 'replica',
    args: HUB_ONLY,
    wsPort: gm.wsPort,
  });
  t.after(() => again.proc.stop('SIGKILL'));
  await until('the outbox drained', 30_000, async () => (await metric('fedmesh_lc_outbox_reports')) === 0);
  const il = await get<{ status: { conditions: Array<{ type: string; stage: string; data?: string }> } }>(
    rest,
    ns,
    'IncrementalLearningJob',
    'il-1',
  );
  const reported = il.status.conditions.slice(1);
  assert.deepEqual(
    reported.map((c) => [
      c.stage,
      c.type,
      (JSON.parse(c.data ?? '{}') as { output: { models: Array<{ url: string }> } }).output.models[0]?.url,
    ]),
    [1, 2, 3].map((i) => ['Train', 'Completed', `/output/model-${i}`]),
  );
  lc.signal('SIGTERM');
  assert.equal(await lc.exited, 0);
});
