/**
 * Incremental learning end to end: a real LC process, a real GM process running the operators, the
 * real control plane. Samples appended to the dataset's index file fire the LC's train trigger; the
 * GM's operator creates the train pod from the LC's Train Ready input; a simulated worker (posting
 * to the LC's worker API as Sedna's Python SDK does) moves the job through Eval and Deploy. With
 * the GM down the trigger still fires, once — across an LC restart too — and lands when it is back.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type TestContext, test } from 'node:test';
import { exampleObject } from '../../examples/index.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, get, nodeToken, sleep, until } from '../hub/helpers.ts';
import { lcProcess } from './process.ts';

const env = useEnvtest();
const NAME = 'il';

interface Cond {
  stage: string;
  type: string;
  data?: string;
}

async function setup(t: TestContext) {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-il-'));
  t.after(() => (process.env.KEEP ? console.log(dir) : rmSync(dir, { recursive: true, force: true })));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  const gmArgs = ['--watch-namespace', ns];
  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: gmArgs });
  t.after(() => gm.proc.stop('SIGKILL'));
  const lcp = await lcProcess(t, {
    dir,
    token: await nodeToken(rest, ns, 'edge-1'),
    gmPorts: [gm.wsPort],
    args: ['--rootfs', rootfs],
  });
  const lcUrl = lcp.url;
  const startLc = () => lcp.start();
  const lc = await startLc();
  const node = (p: string) => join(rootfs, p);
  const lcDb = <T>(fn: (db: DatabaseSync) => T): T => {
    const db = new DatabaseSync(join(dir, 'state', 'lc.db'), { readOnly: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  /** This test's IL reports waiting in the LC's outbox (earlier tests' jobs on edge-1 are routed here too). */
  const ilOutbox = () =>
    lcDb((db) =>
      db
        .prepare("SELECT status FROM outbox WHERE kind = 'IncrementalLearningJob' AND namespace = ? ORDER BY seq")
        .all(ns)
        .map((r) => JSON.parse(String(r.status)) as { phase: string; status: string }),
    );
  /** The newest condition of the job as the LC stored it. */
  const lcLast = () =>
    lcDb((db) => {
      const row = db
        .prepare("SELECT body FROM objects WHERE kind = 'IncrementalLearningJob' AND namespace = ?")
        .get(ns);
      const job = row ? (JSON.parse(String(row.body)) as { status?: { conditions?: Cond[] } }) : undefined;
      return job?.status?.conditions?.at(-1);
    });
  const appendSamples = (from: number, n: number) => {
    mkdirSync(dirname(node('/data/il/index.txt')), { recursive: true });
    appendFileSync(node('/data/il/index.txt'), Array.from({ length: n }, (_, i) => `img/${from + i}.jpg\n`).join(''));
  };
  const conditions = async () =>
    ((await get<{ status?: { conditions?: Cond[] } }>(rest, ns, 'IncrementalLearningJob', NAME)).status?.conditions ??
      []) as Cond[];
  const last = async () => (await conditions()).at(-1);
  const waitStage = (stage: string, type: string, ms = 30_000) =>
    until(`${stage}/${type}`, ms, async () => {
      const c = await last();
      return c?.stage === stage && c.type === type;
    });
  const pods = async () =>
    (
      await rest.request<{ items: Array<{ metadata: { name: string } }> }>('GET', `/api/v1/namespaces/${ns}/pods`)
    ).items.map((p) => p.metadata.name);
  const worker = async (kind: string, status: string, results: unknown[]) => {
    const name = `${kind}-worker-1`;
    const r = await fetch(`${lcUrl}/sedna/workers/${name}/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        namespace: ns,
        ownerName: NAME,
        ownerKind: 'incrementallearningjob',
        kind,
        status,
        results,
      }),
    });
    assert.equal(r.status, 200, await r.text());
  };
  return {
    ns,
    rest,
    gm,
    gmArgs,
    lc,
    startLc,
    node,
    ilOutbox,
    lcLast,
    appendSamples,
    conditions,
    last,
    waitStage,
    pods,
    worker,
  };
}

/** The helmet example, on node edge-1, training when 4 train samples wait (checked every second). */
async function createJob(rest: Awaited<ReturnType<typeof adminRest>>, ns: string) {
  await create(rest, ns, 'Dataset', {
    metadata: { name: 'ds' },
    spec: { url: '/data/il/index.txt', format: 'txt', nodeName: 'edge-1' },
  });
  for (const id of ['Model/initial-model', 'Model/deploy-model']) {
    const m = exampleObject(id) as { metadata: Record<string, unknown>; spec: unknown };
    await create(rest, ns, 'Model', { metadata: { name: m.metadata.name }, spec: m.spec });
  }
  const job = exampleObject('IncrementalLearningJob/helmet-detection-demo') as {
    spec: Record<string, { [k: string]: unknown }>;
  };
  job.spec.dataset = { name: 'ds', trainProb: 0.8 };
  (job.spec.trainSpec as { trigger: unknown }).trigger = {
    checkPeriodSeconds: 1,
    condition: { operator: '>=', threshold: 4, metric: 'num_of_samples' },
  };
  (job.spec.deploySpec as { model: { hotUpdateEnabled: boolean } }).model.hotUpdateEnabled = false;
  await create(rest, ns, 'IncrementalLearningJob', { metadata: { name: NAME }, spec: job.spec });
}

const dataOf = (c: Cond | undefined) => JSON.parse(c?.data ?? '{}') as Record<string, Record<string, unknown>>;

test('IncrementalLearningJob: samples fire the LC trigger, the operator creates the train pod, worker reports move it through Train -> Eval -> Deploy', async (t) => {
  const s = await setup(t);
  await createJob(s.rest, s.ns);
  await s.waitStage('Train', 'Waiting');
  s.appendSamples(0, 3);
  await sleep(2500);
  assert.equal((await s.last())?.type, 'Waiting', '2 train samples (int(0.8 * 3)) do not reach 4');

  s.appendSamples(3, 3);
  await until('the train pod', 30_000, async () => (await s.pods()).includes(`${NAME}-train-1`));
  const ready = (await s.conditions()).find((c) => c.stage === 'Train' && c.type === 'Ready');
  assert.deepEqual(dataOf(ready).input, {
    models: [{ format: 'ckpt', url: '/models/base_model' }],
    dataURL: '/output/data/train/1/data.txt',
    outputDir: '/output/train/1',
  });
  assert.equal(readFileSync(s.node('/output/data/train/1/data.txt'), 'utf8').trim().split('\n').length, 4);

  // The train worker saves its model and reports, as Sedna's SDK does.
  mkdirSync(s.node('/output/train/1'), { recursive: true });
  writeFileSync(s.node('/output/train/1/model.pb'), 'trained');
  await s.worker('train', 'completed', [{ format: 'pb', url: '/output/train/1/model.pb' }]);
  await until('the eval pod', 30_000, async () => (await s.pods()).some((p) => p.startsWith(`${NAME}-eval-`)));
  const evalReady = (await s.conditions()).find((c) => c.stage === 'Eval' && c.type === 'Ready');
  assert.deepEqual(dataOf(evalReady).input?.models, [
    { format: 'pb', url: '/output/train/1/model.pb' },
    { format: 'pb', url: '/models/deploy_model/saved_model.pb' },
  ]);

  // Evaluation: precision up by 0.3 > 0.1, so the deploy trigger holds and the model is deployed.
  await s.worker('eval', 'completed', [
    { format: 'pb', url: '/output/train/1/model.pb', metrics: { precision: [0.9] } },
    { format: 'pb', url: '/models/deploy_model/saved_model.pb', metrics: { precision: [0.6] } },
  ]);
  await until('the next round waits', 30_000, async () => {
    const cs = await s.conditions();
    return cs.some((c) => c.stage === 'Deploy' && c.type === 'Completed') && cs.at(-1)?.stage === 'Train';
  });
  assert.equal(readFileSync(s.node('/models/deploy_model/saved_model.pb'), 'utf8'), 'trained');
  assert.deepEqual(
    (await s.conditions()).map((c) => `${c.stage}/${c.type}`),
    [
      'Train/Waiting',
      'Train/Ready',
      'Train/Starting',
      'Train/Completed',
      'Eval/Waiting',
      'Eval/Ready',
      'Eval/Starting',
      'Eval/Completed',
      'Deploy/Waiting',
      'Deploy/Ready',
      'Deploy/Completed',
      'Train/Waiting',
    ],
  );
  assert.ok((await s.pods()).some((p) => p.startsWith(`${NAME}-inference-`) && p !== `${NAME}-inference-0`));
});

test('IncrementalLearningJob: with the GM down the trigger fires once (an LC restart included) and lands when the GM is back', async (t) => {
  const s = await setup(t);
  await createJob(s.rest, s.ns);
  await s.waitStage('Train', 'Waiting');
  await until('the LC holds the job at Train/Waiting', 20_000, () => s.lcLast()?.type === 'Waiting');

  await s.gm.proc.stop('SIGKILL');
  s.appendSamples(0, 10);
  await until('the trigger fired into the outbox', 20_000, () => s.ilOutbox().length === 1);
  assert.deepEqual(
    s.ilOutbox().map((r) => `${r.phase}/${r.status}`),
    ['train/ready'],
  );
  assert.ok(existsSync(s.node('/output/data/train/1/data.txt')));

  // The LC restarts with no GM: the fired trigger is remembered, not fired again.
  s.lc.signal('SIGTERM');
  assert.equal(await s.lc.exited, 0);
  await s.startLc();
  s.appendSamples(10, 10);
  await sleep(3000);
  assert.equal(s.ilOutbox().length, 1, 'not fired again');

  const again = await startReplica(env.plane, {
    id: 'b',
    namespace: s.ns,
    readyz: 'replica',
    args: s.gmArgs,
    wsPort: s.gm.wsPort,
  });
  t.after(() => again.proc.stop('SIGKILL'));
  await until('the train pod', 30_000, async () => (await s.pods()).includes(`${NAME}-train-1`));
  await until('the outbox drained', 20_000, () => s.ilOutbox().length === 0);
  await sleep(2000);
  const readies = (await s.conditions()).filter((c) => c.type === 'Ready');
  assert.equal(readies.length, 1, 'landed once');
  assert.equal(dataOf(readies[0]).input?.dataURL, '/output/data/train/1/data.txt');
  assert.equal((await s.pods()).filter((p) => p.startsWith(`${NAME}-train-`)).length, 1);
});
