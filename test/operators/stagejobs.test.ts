import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeRest } from '../../common/kube/rest.ts';
import { installCrds } from '../../crds/index.ts';
import type { KubeObject, ResourceType } from '../../gm/operators/resources.ts';
import { useEnvtest } from '../envtest/index.ts';
import {
  appendCondition,
  applyExample,
  create,
  envOf,
  get,
  list,
  RESOURCES,
  runOperators,
  setPodPhase,
  until,
  versions,
} from './harness.ts';

const env = useEnvtest({ controllers: ['garbagecollector'], beforeControllers: (kc) => installCrds(kc) });

/** Waits until the job's last condition is `stage`/`type`; returns the job. */
function waitStage(rest: KubeRest, r: ResourceType, ns: string, name: string, stage: string, type: string) {
  return until(`${stage} ${type}`, 20_000, async () => {
    const job = await get(rest, r, ns, name);
    const c = job?.status?.conditions?.at(-1);
    return c?.stage === stage && c?.type === type ? job : undefined;
  });
}

/** What the hub appends for an LC report `{phase, status, input, output}`. */
const report = (stage: string, type: string, data?: unknown) => ({
  stage,
  type,
  ...(data ? { data: JSON.stringify(data) } : {}),
});

test('IncrementalLearningJob: Train -> Eval -> Deploy driven by LC reports and pod phases', async (t) => {
  const ns = await env.namespace(t);
  const { rest, operators } = await runOperators(env, t, ns);
  const IL = RESOURCES.IncrementalLearningJob;
  const NAME = 'helmet-detection-demo';
  const created = await applyExample(rest, ns, 'incremental-learning-helmet-detection.yaml');
  const uid = created.get(`IncrementalLearningJob/${NAME}`)?.metadata.uid as string;

  // Start: the inference worker (hot update on) and a Train Waiting condition.
  let job = await waitStage(rest, IL, ns, NAME, 'Train', 'Waiting');
  assert.ok(job.status.startTime);
  const hotFile = `/var/lib/sedna/model-hot-update/${ns}/incrementallearningjob/${NAME}/model_config.json`;
  assert.equal(job.metadata.annotations?.['sedna.io/model-hot-update-config'], hotFile);
  const infer = await until('inference pod', 10_000, () => get(rest, RESOURCES.Pod, ns, `${NAME}-inference-0`));
  assert.equal(infer.metadata.labels?.['incrementallearningjob.sedna.io/worker-type'], 'inference');
  assert.equal(infer.metadata.ownerReferences?.[0]?.uid, uid);
  assert.equal(infer.spec.hostNetwork, true);
  const ie = envOf(infer.spec);
  assert.equal(ie.MODEL_URL, '/home/data/models/deploy_model/saved_model.pb');
  assert.equal(ie.HEM_NAME, 'IBT');
  assert.equal(ie.MODEL_HOT_UPDATE, 'true');
  assert.equal(ie.MODEL_POLL_PERIOD_SECONDS, '60');
  assert.equal(ie.MODEL_HOT_UPDATE_CONFIG, '/model-hot-update/model_config.json');
  assert.equal(ie.HE_SAVED_URL, '/he_saved_url');
  assert.ok(
    infer.spec.volumes.some(
      (v: { name: string; hostPath?: { path: string } }) =>
        v.name === 'sedna-model-hot-update-volume' && v.hostPath?.path === hotFile.replace('model_config.json', ''),
    ),
  );

  // The LC's trigger fired: Train Ready with the input -> the train pod, named after the step.
  await appendCondition(
    rest,
    IL,
    ns,
    NAME,
    report('Train', 'Ready', {
      input: {
        models: [{ format: 'ckpt', url: 's3://kb/base_model' }],
        dataURL: '/output/train/1/data.txt',
        outputDir: '/output/train/1',
      },
    }),
  );
  await waitStage(rest, IL, ns, NAME, 'Train', 'Starting');
  const train = (await get(rest, RESOURCES.Pod, ns, `${NAME}-train-1`)) as KubeObject;
  assert.equal(train.metadata.labels?.['incrementallearningjob.sedna.io/worker-type'], 'train');
  const te = envOf(train.spec);
  assert.equal(te.BASE_MODEL_URL, '/downloads/kb/base_model');
  assert.equal(te.MODEL_URL, '/home/data/output/train/1');
  assert.equal(te.TRAIN_DATASET_URL, '/home/data/output/train/1/data.txt');
  assert.equal(te.ORIGINAL_DATASET_URL, '/home/data/data/helmet_detection/train_data/train_data.txt');
  assert.equal(te.LC_SERVER, 'http://localhost:9100');
  assert.equal(train.spec.restartPolicy, 'OnFailure');
  assert.deepEqual(
    train.spec.initContainers.map((c: { args: string[] }) => c.args),
    [['s3://kb/base_model', '/downloads/kb/']],
  );

  // The kubelet runs it: Running, and the job notes the node for the hub's routing.
  await setPodPhase(rest, ns, `${NAME}-train-1`, 'Running');
  job = await waitStage(rest, IL, ns, NAME, 'Train', 'Running');
  assert.equal(job.metadata.annotations?.['sedna.io/Train'], 'edge-node-1');

  // Idempotent while nothing changes.
  const term = operators.term();
  assert.ok(term);
  await until('idle', 10_000, () => term.idle());
  const kinds = [RESOURCES.Pod, IL];
  const before = await versions(rest, ns, kinds);
  await term.reconcileNow(`IncrementalLearningJob/${ns}/${NAME}`, AbortSignal.timeout(10_000));
  await term.reconcileNow(`IncrementalLearningJob/${ns}/${NAME}`, AbortSignal.timeout(10_000));
  assert.deepEqual(await versions(rest, ns, kinds), before);

  // Succeeded -> Completed -> Eval Waiting.
  await setPodPhase(rest, ns, `${NAME}-train-1`, 'Succeeded');
  job = await waitStage(rest, IL, ns, NAME, 'Eval', 'Waiting');
  assert.deepEqual(
    job.status.conditions.map((c: { stage: string; type: string }) => `${c.stage}/${c.type}`),
    ['Train/Waiting', 'Train/Ready', 'Train/Starting', 'Train/Running', 'Train/Completed', 'Eval/Waiting'],
  );

  await appendCondition(
    rest,
    IL,
    ns,
    NAME,
    report('Eval', 'Ready', {
      input: {
        models: [{ url: '/output/train/1/model.ckpt' }, { url: 's3://kb/base_model' }],
        dataURL: '/output/eval/data.txt',
      },
    }),
  );
  await waitStage(rest, IL, ns, NAME, 'Eval', 'Starting');
  const evalPod = (await list(rest, RESOURCES.Pod, ns)).find((p) => p.metadata.name.startsWith(`${NAME}-eval-`));
  assert.ok(evalPod);
  assert.equal(evalPod.metadata.name, `${NAME}-eval-6`, 'named after the Eval Ready condition (index 6)');
  assert.equal(evalPod.metadata.labels?.['incrementallearningjob.sedna.io/worker-type'], 'eval');
  assert.equal(envOf(evalPod.spec).MODEL_URLS, '/home/data/output/train/1/model.ckpt;/downloads/kb/base_model');
  assert.equal(envOf(evalPod.spec).TEST_DATASET_URL, '/home/data/output/eval/data.txt');
  await setPodPhase(rest, ns, evalPod.metadata.name, 'Succeeded');
  await waitStage(rest, IL, ns, NAME, 'Deploy', 'Waiting');

  // Deploy with hot update: the running inference worker reloads the model; it is not restarted.
  await appendCondition(rest, IL, ns, NAME, report('Deploy', 'Ready', { input: {} }));
  await waitStage(rest, IL, ns, NAME, 'Deploy', 'Starting');
  await setPodPhase(rest, ns, `${NAME}-inference-0`, 'Running');
  job = await waitStage(rest, IL, ns, NAME, 'Deploy', 'Running');
  assert.equal(job.metadata.annotations?.['sedna.io/Deploy'], 'edge-node-1');
  assert.deepEqual(
    (await list(rest, RESOURCES.Pod, ns))
      .filter((p) => p.metadata.name.includes('-inference-'))
      .map((p) => p.metadata.name),
    [`${NAME}-inference-0`],
  );
});

test('LifelongLearningJob: knowledge base index across rounds, failed stages retrain, Deploy restarts inference', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  const LL = RESOURCES.LifelongLearningJob;
  const NAME = 'robo-dog-delivery';
  await applyExample(rest, ns, 'lifelong-learning-robot-dog.yaml');
  await waitStage(rest, LL, ns, NAME, 'Train', 'Waiting');
  assert.equal((await list(rest, RESOURCES.Pod, ns)).length, 0, 'no inference worker before the first Deploy');

  const input = {
    input: { dataURL: '/output/robo-dog-delivery/train/data.txt', outputDir: '/output/robo-dog-delivery/train/1' },
  };
  await appendCondition(rest, LL, ns, NAME, report('Train', 'Ready', input));
  await waitStage(rest, LL, ns, NAME, 'Train', 'Starting');
  const first = (await get(rest, RESOURCES.Pod, ns, `${NAME}-train-1`)) as KubeObject;
  const fe = envOf(first.spec);
  assert.equal(fe.HAS_COMPLETED_INITIAL_TRAINING, 'false');
  assert.equal(fe.CLOUD_KB_INDEX, undefined);
  assert.equal(fe.KB_SERVER, 'http://localhost:9020');
  assert.equal(fe.OUTPUT_URL, '/home/data/output/robo-dog-delivery/train/1');
  assert.equal(first.spec.dnsPolicy, 'ClusterFirstWithHostNet');

  // The LC reports the stage completed, with the knowledge base it produced.
  await appendCondition(
    rest,
    LL,
    ns,
    NAME,
    report('Train', 'Completed', { output: { models: [{ url: 's3://kb/index/1.pkl' }] } }),
  );
  await waitStage(rest, LL, ns, NAME, 'Eval', 'Waiting');
  await appendCondition(
    rest,
    LL,
    ns,
    NAME,
    report('Eval', 'Ready', { input: { models: [{ url: 's3://kb/index/1.pkl' }], dataURL: '/output/eval.txt' } }),
  );
  await waitStage(rest, LL, ns, NAME, 'Eval', 'Starting');
  const evalPod = (await list(rest, RESOURCES.Pod, ns)).find((p) =>
    p.metadata.name.startsWith(`${NAME}-eval-`),
  ) as KubeObject;
  assert.equal(envOf(evalPod.spec).KB_SERVER, 'http://localhost:9020');
  await setPodPhase(rest, ns, evalPod.metadata.name, 'Failed');
  await waitStage(rest, LL, ns, NAME, 'Train', 'Waiting');

  // The next round starts from the knowledge base of the completed training (a new train pod
  // only once the previous one is no longer pending or running).
  await setPodPhase(rest, ns, `${NAME}-train-1`, 'Succeeded');
  await appendCondition(rest, LL, ns, NAME, report('Train', 'Ready', input));
  const job = await waitStage(rest, LL, ns, NAME, 'Train', 'Starting');
  const step = job.status.conditions.length - 2;
  const second = (await get(rest, RESOURCES.Pod, ns, `${NAME}-train-${step}`)) as KubeObject;
  assert.equal(envOf(second.spec).HAS_COMPLETED_INITIAL_TRAINING, 'true');
  assert.equal(envOf(second.spec).CLOUD_KB_INDEX, 's3://kb/index/1.pkl');
  await setPodPhase(rest, ns, second.metadata.name, 'Succeeded');
  await waitStage(rest, LL, ns, NAME, 'Eval', 'Waiting');
  await appendCondition(rest, LL, ns, NAME, report('Eval', 'Completed', {}));
  await waitStage(rest, LL, ns, NAME, 'Deploy', 'Waiting');

  // Deploy: the inference worker (re)starts with the knowledge base index, then Train waits again.
  await appendCondition(rest, LL, ns, NAME, report('Deploy', 'Ready', {}));
  await waitStage(rest, LL, ns, NAME, 'Train', 'Waiting');
  const infer = (await list(rest, RESOURCES.Pod, ns)).filter((p) => p.metadata.name.startsWith(`${NAME}-inference-`));
  assert.equal(infer.length, 1);
  const ie = envOf(infer[0]?.spec);
  assert.equal(ie.MODEL_URLS, '/home/data/output/robo-dog-delivery/deploy/index.pkl');
  assert.equal(ie.OUTPUT_URL, '/output/robo-dog-delivery');
  assert.equal(infer[0]?.metadata.labels?.['lifelonglearningjob.sedna.io/worker-type'], 'inference');
});

test('Dataset and Model: an LC report without updateTime gets one', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  const ds = await create(rest, ns, {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'd' },
    spec: { url: '/data/d.txt', format: 'txt', nodeName: 'edge-node-1' },
  });
  await rest.request('PATCH', `/apis/sedna.io/v1alpha1/namespaces/${ns}/datasets/d/status`, {
    body: { status: { numberOfSamples: 42 } },
    contentType: 'application/merge-patch+json',
  });
  const withTime = await until('updateTime', 20_000, async () => {
    const d = await get(rest, RESOURCES.Dataset, ns, 'd');
    return d?.status?.updateTime ? d : undefined;
  });
  assert.equal(withTime.status.numberOfSamples, 42);
  assert.equal(withTime.metadata.uid, ds.metadata.uid);

  await create(rest, ns, {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'Model',
    metadata: { name: 'm' },
    spec: { url: '/models/m.pb', format: 'pb' },
  });
  await rest.request('PATCH', `/apis/sedna.io/v1alpha1/namespaces/${ns}/models/m/status`, {
    body: { status: { metrics: [{ key: 'precision', value: '0.91' }] } },
    contentType: 'application/merge-patch+json',
  });
  await until('model updateTime', 20_000, async () => (await get(rest, RESOURCES.Model, ns, 'm'))?.status?.updateTime);
});
