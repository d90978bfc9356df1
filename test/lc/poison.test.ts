/**
 * Regression for issue 12 ("Hold under hostile input"): a poison worker report used to be accepted,
 * closed by the GM on every send, and resent in a reconnect loop of ~800/s until the state dir
 * was wiped. A real LC process against a real GM process on the real control plane.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { installCrds } from '../../crds/install.ts';
import { openSqliteStore } from '../../lc/store/sqlite.ts';
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
  sleep,
  startIncrementalJob,
  until,
} from '../hub/helpers.ts';
import { lcProcess } from './process.ts';

const env = useEnvtest();

/** The value of one series (`name{labels}`) in a Prometheus text page; 0 when absent. */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** The sum of every series of a metric family. */
async function family(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

function nested(levels: number): Record<string, unknown> {
  let o: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < levels; i++) o = { a: o };
  return o;
}

test('a poison report is refused by the worker API, or dead-lettered once it reaches the GM, within the backoff; the next report is delivered without a restart', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-1', 'edge-1'));
  await create(rest, ns, 'IncrementalLearningJob', incrementalJob('il-1', 'ds-1'));
  await startIncrementalJob(rest, ns, 'il-1');
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-poison-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // A GM with its default frame limit (1 MiB).
  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
  t.after(() => gm.proc.stop('SIGKILL'));
  await until('the GM is ready', 30_000, async () => (await gm.readyz()) === 200);
  const gmUrl = `http://127.0.0.1:${gm.port}`;

  // Poison left in the outbox by an older LC that did not check reports: nested past the GM's depth limit.
  const stateDir = join(dir, 'state');
  const seeded = openSqliteStore({ path: join(stateDir, 'lc.db') });
  const old = seeded.enqueue({
    kind: 'IncrementalLearningJob',
    namespace: ns,
    name: 'il-1',
    status: { phase: 'train', status: 'ready', output: { models: null, ownerInfo: nested(150) } },
    reportedAt: new Date().toISOString(),
    coalesce: false,
  });
  seeded.close();

  // The LC is misconfigured with a report limit above the GM's frame limit, so an oversized report
  // gets past its own check and reaches the GM, which closes the link with 1009 on it.
  const lcp = await lcProcess(t, {
    dir,
    token: await nodeToken(rest, ns, 'edge-1'),
    gmPorts: [gm.wsPort],
    backoffMax: '2s',
    args: ['--max-report-bytes', String(4 * 1024 * 1024)],
  });
  const lcUrl = lcp.url;
  const lc = await lcp.start();
  await until('the LC is connected', 20_000, async () => {
    return (await metric(lcUrl, 'fedmesh_lc_gm_connected').catch(() => 0)) === 1;
  });
  await until('the old poison is dead-lettered without being sent', 10_000, async () => {
    return (await metric(lcUrl, 'fedmesh_lc_reports_dead_lettered_total{reason="invalid"}')) === 1;
  });

  const post = (ownerInfo: unknown, results: unknown = null) =>
    fetch(`${lcUrl}/sedna/workers/train-worker/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'train-worker',
        namespace: ns,
        ownerName: 'il-1',
        ownerKind: 'incrementallearningjob',
        kind: 'train',
        status: 'completed',
        ownerInfo,
        results,
      }),
    });

  // (1) Nested 150 deep: refused at the edge, never stored.
  const deep = await post(nested(150));
  assert.equal(deep.status, 400);
  assert.equal(((await deep.json()) as { Status: number }).Status, 400);
  assert.equal(await metric(lcUrl, 'fedmesh_lc_outbox_reports'), 0);

  // (2) 1.5 MiB: the LC takes it (its limit is 4 MiB); the GM does not. A good report follows it.
  const dials0 = await metric(lcUrl, 'fedmesh_lc_link_dials_total');
  const gmCloses0 = await family(gmUrl, 'fedmesh_hub_connection_closes_total');
  const t0 = performance.now();
  assert.equal((await post({ blob: 'x'.repeat(1536 * 1024) })).status, 200);
  assert.equal((await post({ epoch: 2 }, [{ format: 'pb', url: '/output/model-good' }])).status, 200);
  await until('the oversized report is dead-lettered', 30_000, async () => {
    return (await metric(lcUrl, 'fedmesh_lc_reports_dead_lettered_total{reason="closed"}')) === 1;
  });
  await until('the good report is delivered', 30_000, async () => {
    return (await metric(lcUrl, 'fedmesh_lc_outbox_reports')) === 0;
  });
  const took = performance.now() - t0;

  const il = await get<{ status: { conditions: Array<{ type: string; stage: string; data?: string }> } }>(
    rest,
    ns,
    'IncrementalLearningJob',
    'il-1',
  );
  const reported = il.status.conditions.slice(1).map((c) => {
    const data = JSON.parse(c.data ?? '{}') as { output?: { models?: Array<{ url: string }> | null } };
    return [c.stage, c.type, data.output?.models?.[0]?.url];
  });
  assert.deepEqual(reported, [['Train', 'Completed', '/output/model-good']], 'only the good report reached the API');

  // Two strikes (in flight, then alone), each after a backoff; then the LC stays connected.
  assert.equal(await metric(lcUrl, 'fedmesh_lc_link_closes_total{code="1009"}'), 2);
  const dials = (await metric(lcUrl, 'fedmesh_lc_link_dials_total')) - dials0;
  assert.equal(dials, 2, 'one reconnect per close');
  assert.ok((await family(gmUrl, 'fedmesh_hub_connection_closes_total')) - gmCloses0 <= 2);
  await sleep(2000);
  assert.equal(await metric(lcUrl, 'fedmesh_lc_link_dials_total'), dials0 + dials, 'no reconnect since');
  assert.equal(await metric(lcUrl, 'fedmesh_lc_gm_connected'), 1);
  t.diagnostic(`poison to good report delivered: ${took.toFixed(0)} ms, ${dials} reconnects`);

  const letters = (await (await fetch(`${lcUrl}/fedmesh/dead-letters`)).json()) as {
    items: Array<{ seq: number; cause: string; code: string; bytes: number; status: string | null }>;
    total: number;
  };
  assert.equal(letters.total, 2);
  assert.deepEqual(
    letters.items.map((d) => [d.cause, d.code]),
    [
      ['closed', '1009'],
      ['invalid', 'ERR_MALFORMED_JSON'],
    ],
  );
  assert.equal(letters.items[1]?.seq, old.seq);
  assert.equal(letters.items[0]?.status, null, 'too big to keep, only its size');
  assert.ok((letters.items[0]?.bytes ?? 0) > 1024 * 1024);
  assert.equal(await metric(lcUrl, 'fedmesh_lc_dead_letter_reports'), 2);

  lc.signal('SIGTERM');
  assert.equal(await lc.exited, 0);
});
