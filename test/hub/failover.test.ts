import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantile } from '../../bench/stats.ts';
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
  sleep,
  startIncrementalJob,
  startTestLc,
  type TestLc,
  until,
} from './helpers.ts';

const env = useEnvtest();
const LCS = 50;
const REPORTS = 16;
const INTERVAL_MS = 250;

test('kill -9 one of three replicas while 50 LCs stream numbered reports: its LCs re-home within 1 s (p99); every report is applied once, in order', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  const nodes = Array.from({ length: LCS }, (_, i) => `edge-${i}`);
  await Promise.all(
    nodes.map(async (n) => {
      await create(rest, ns, 'Dataset', dataset(`ds-${n}`, n));
      await create(rest, ns, 'IncrementalLearningJob', incrementalJob(`il-${n}`, `ds-${n}`));
      await startIncrementalJob(rest, ns, `il-${n}`);
    }),
  );
  const replicas = await Promise.all(
    ['a', 'b', 'c'].map((id) => startReplica(env.plane, { id, namespace: ns, readyz: 'replica', args: HUB_ONLY })),
  );
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));
  await until('replicas ready', 30_000, async () =>
    (await Promise.all(replicas.map((r) => r.readyz()))).every((c) => c === 200),
  );
  const urls = replicas.map((r) => `ws://127.0.0.1:${r.wsPort}/`);
  const tokens = await Promise.all(nodes.map((n) => nodeToken(rest, ns, n)));
  const lcs: TestLc[] = nodes.map((n, i) => startTestLc(n, [...urls.slice(i % 3), ...urls.slice(0, i % 3)], tokens[i]));
  t.after(() => Promise.all(lcs.map((l) => l.stop())));
  await until('every LC holds its job', 20_000, () =>
    lcs.every((l) => l.keys().includes(`IncrementalLearningJob/il-${l.node}`)),
  );

  // Every LC reports 1..REPORTS for its job; the kill lands in the middle of the stream.
  const victim = replicas[1]!;
  let killedAt = 0;
  const stream = Promise.all(
    lcs.map(async (l, idx) => {
      await sleep((idx * INTERVAL_MS) / LCS); // spread the LCs over the interval
      for (let i = 1; i <= REPORTS; i++) {
        l.lc.report({
          kind: 'IncrementalLearningJob',
          namespace: ns,
          name: `il-${l.node}`,
          status: { phase: 'train', status: 'ready', input: { dataURL: `report-${i}` } },
        });
        await sleep(INTERVAL_MS);
      }
    }),
  );
  await sleep((REPORTS * INTERVAL_MS) / 2);
  const movers = lcs.filter((l) => l.welcomes.at(-1)?.replica === victim.id);
  assert.ok(movers.length > 0, 'the victim serves some LCs');
  killedAt = performance.now();
  victim.proc.signal('SIGKILL');
  await stream;
  await until('every outbox drained', 60_000, () => lcs.every((l) => l.lc.store.outboxSize() === 0));

  const rehome = movers.map((l) => {
    const w = l.welcomes.find((x) => x.at > killedAt);
    assert.ok(w, `${l.node} reconnected`);
    assert.notEqual(w.replica, victim.id);
    return w.at - killedAt;
  });
  const p99 = quantile(rehome, 0.99);
  t.diagnostic(`re-home of ${rehome.length} LCs: p50 ${quantile(rehome, 0.5).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);
  assert.ok(p99 <= 1000, `re-home p99 ${p99.toFixed(0)} ms over ${rehome.length} LCs`);

  // Every report is in the API exactly once and in order (conditions[0] is the controller's Waiting).
  for (const n of nodes) {
    const il = await get<{ status: { conditions: Array<{ data?: string }> } }>(
      rest,
      ns,
      'IncrementalLearningJob',
      `il-${n}`,
    );
    const seen = il.status.conditions
      .slice(1)
      .map((c) => (JSON.parse(c.data ?? '{}') as { input?: { dataURL?: string } }).input?.dataURL);
    assert.deepEqual(
      seen,
      Array.from({ length: REPORTS }, (_, i) => `report-${i + 1}`),
      `reports of ${n}`,
    );
  }
});
