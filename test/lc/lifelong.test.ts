/**
 * Lifelong learning end to end: a real LC process, a real GM process running the operators, the
 * real control plane. Samples appended to the dataset's index file fire the LC's train trigger; the
 * GM's operator creates the train pod from the LC's Train Ready input; a simulated worker (posting
 * to the LC's worker API as Sedna's Python SDK does) reports the knowledge base it built, which the
 * GM writes to `status.knowledgeBase` (as Sedna's GM), and moves the job through Eval and Deploy.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { exampleObject } from '../../examples/index.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, get, nodeToken, sleep, until } from '../hub/helpers.ts';
import { lcProcess } from './process.ts';

const env = useEnvtest();
const NAME = 'll';

interface Cond {
  stage: string;
  type: string;
  data?: string;
}
interface LlStatus {
  conditions?: Cond[];
  knowledgeBase?: unknown;
}

const dataOf = (c: Cond | undefined) => JSON.parse(c?.data ?? '{}') as Record<string, Record<string, unknown>>;

test('LifelongLearningJob: samples fire the LC trigger, worker reports build the knowledge base in status, Train -> Eval -> Deploy', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-ll-'));
  t.after(() => (process.env.KEEP ? console.log(dir) : rmSync(dir, { recursive: true, force: true })));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  const node = (p: string) => join(rootfs, p);
  const gm = await startReplica(env.plane, {
    id: 'a',
    namespace: ns,
    readyz: 'replica',
    args: ['--watch-namespace', ns],
  });
  t.after(() => gm.proc.stop('SIGKILL'));
  const lcp = await lcProcess(t, {
    dir,
    token: await nodeToken(rest, ns, 'edge-1'),
    gmPorts: [gm.wsPort],
    args: ['--rootfs', rootfs],
  });
  const lcUrl = lcp.url;
  await lcp.start();

  const status = async () => (await get<{ status?: LlStatus }>(rest, ns, 'LifelongLearningJob', NAME)).status ?? {};
  const conditions = async () => (await status()).conditions ?? [];
  const pods = async () =>
    (
      await rest.request<{ items: Array<{ metadata: { name: string } }> }>('GET', `/api/v1/namespaces/${ns}/pods`)
    ).items.map((p) => p.metadata.name);
  const worker = async (kind: string, st: string, results: unknown[]) => {
    const name = `${kind}-worker-1`;
    const r = await fetch(`${lcUrl}/sedna/workers/${name}/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        namespace: ns,
        ownerName: NAME,
        ownerKind: 'lifelonglearningjob',
        ownerInfo: {},
        kind,
        status: st,
        results,
      }),
    });
    assert.equal(r.status, 200, await r.text());
  };
  const appendSamples = (from: number, n: number) => {
    mkdirSync(dirname(node('/data/ll/index.txt')), { recursive: true });
    appendFileSync(node('/data/ll/index.txt'), Array.from({ length: n }, (_, i) => `img/${from + i}.png\n`).join(''));
  };

  // The robot dog example on node edge-1 (its Dataset's node), training when 4 train samples wait.
  await create(rest, ns, 'Dataset', {
    metadata: { name: 'ds' },
    spec: { url: '/data/ll/index.txt', format: 'txt', nodeName: 'edge-1' },
  });
  const job = exampleObject('LifelongLearningJob/robo-dog-delivery') as {
    spec: { trainSpec: Record<string, unknown>; [k: string]: unknown };
  };
  job.spec.dataset = { name: 'ds', trainProb: 0.8 };
  job.spec.trainSpec.trigger = {
    checkPeriodSeconds: 1,
    condition: { operator: '>=', threshold: 4, metric: 'num_of_samples' },
  };
  job.spec.outputDir = '/output/ll';
  await create(rest, ns, 'LifelongLearningJob', { metadata: { name: NAME }, spec: job.spec });
  await until('Train/Waiting', 30_000, async () => (await conditions()).at(-1)?.type === 'Waiting');

  appendSamples(0, 3);
  await sleep(2500);
  assert.equal((await conditions()).at(-1)?.type, 'Waiting', '2 train samples (int(0.8 * 3)) do not reach 4');
  appendSamples(3, 3);
  await until('the train pod', 30_000, async () => (await pods()).includes(`${NAME}-train-1`));
  const ready = (await conditions()).find((c) => c.stage === 'Train' && c.type === 'Ready');
  assert.deepEqual(dataOf(ready).input, {
    dataURL: '/output/ll/data/train/1/data.txt',
    outputDir: '/output/ll/train/1',
  });
  assert.equal(readFileSync(node('/output/ll/data/train/1/data.txt'), 'utf8').trim().split('\n').length, 4);
  assert.equal((await status()).knowledgeBase, undefined, 'no knowledge base before a worker reported one');

  // The train worker writes its knowledge base index and reports the task models it holds.
  mkdirSync(node('/output/ll/train/1'), { recursive: true });
  writeFileSync(node('/output/ll/train/1/index.pkl'), 'kb-1');
  const kbModel = {
    format: 'pkl',
    url: '/output/ll/train/1/index.pkl',
    current_metric: { 'task-0': { mIoU: 0.5 } },
    classes: ['road', 'sidewalk', 'curb'],
    number_of_labeled_unseen_sample: 4,
    number_of_model: 1,
    number_of_unseen_sample: 0,
  };
  await worker('train', 'completed', [kbModel]);
  await until('the eval pod', 30_000, async () => (await pods()).some((p) => p.startsWith(`${NAME}-eval-`)));
  assert.deepEqual((await status()).knowledgeBase, {
    AIModels: {
      numberOfAIModels: 1,
      listOfAIModels: [{ modelID: 'task-0', averagePrecision: 0.5, numberOfTrainSamples: 4 }],
    },
    AIClasses: { numberOfAIClasses: 3, listOfAIClasses: ['road', 'sidewalk', 'curb'] },
    samples: { numberOfLabeledUnseenSample: 4, numberOfUnseenSample: 0 },
  });
  const evalReady = (await conditions()).find((c) => c.stage === 'Eval' && c.type === 'Ready');
  // The eval input carries the knowledge base as the train worker reported it (zero counts dropped, as Go's omitempty).
  const { number_of_unseen_sample: _, ...kbRef } = kbModel;
  assert.deepEqual(dataOf(evalReady).input, {
    models: [kbRef],
    dataURL: '/output/ll/data/eval/1/data.txt',
    outputDir: '/output/ll/eval/1',
  });

  // The eval worker reports the evaluated knowledge base: the status follows, Deploy copies it.
  await worker('eval', 'completed', [
    { ...kbModel, current_metric: { 'task-0': { mIoU: 0.7 }, 'task-1': { mIoU: 0.4 } } },
  ]);
  await until('the next round waits', 30_000, async () => {
    const cs = await conditions();
    return cs.some((c) => c.stage === 'Deploy' && c.type === 'Ready') && cs.at(-1)?.stage === 'Train';
  });
  assert.equal(readFileSync(node('/output/ll/deploy/index.pkl'), 'utf8'), 'kb-1');
  assert.deepEqual((await status()).knowledgeBase, {
    AIModels: {
      numberOfAIModels: 2,
      listOfAIModels: [
        { modelID: 'task-0', averagePrecision: 0.7, numberOfTrainSamples: 4 },
        { modelID: 'task-1', averagePrecision: 0.4, numberOfTrainSamples: 4 },
      ],
    },
    AIClasses: { numberOfAIClasses: 3, listOfAIClasses: ['road', 'sidewalk', 'curb'] },
    samples: { numberOfLabeledUnseenSample: 4, numberOfUnseenSample: 0 },
  });
  assert.deepEqual(
    (await conditions()).map((c) => `${c.stage}/${c.type}`),
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
  assert.ok(
    (await pods()).some((p) => p.startsWith(`${NAME}-inference-`)),
    'the inference worker started',
  );
});
