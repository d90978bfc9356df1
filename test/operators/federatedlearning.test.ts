import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installCrds } from '../../crds/index.ts';
import type { KubeObject } from '../../gm/operators/resources.ts';
import { useEnvtest } from '../envtest/index.ts';
import {
  applyExample,
  envOf,
  finishPodDeletions,
  get,
  list,
  RESOURCES,
  runOperators,
  setPodPhase,
  until,
  versions,
} from './harness.ts';

const env = useEnvtest({ controllers: ['garbagecollector'], beforeControllers: (kc) => installCrds(kc) });

const FILE = 'federated-learning-surface-defect.yaml';
const NAME = 'surface-defect-detection';
const AGG = `${NAME}-aggregation-0`;
const TRAIN = [`${NAME}-train-0`, `${NAME}-train-1`];
const jobPath = (ns: string) => `/apis/sedna.io/v1alpha1/namespaces/${ns}/federatedlearningjobs/${NAME}`;

async function jobStatus(rest: Parameters<typeof get>[0], ns: string) {
  return (await get(rest, RESOURCES.FederatedLearningJob, ns, NAME))?.status ?? {};
}

test('FederatedLearningJob: aggregation pod and Service, a training pod per worker; phase follows the pods', async (t) => {
  const ns = await env.namespace(t);
  const { rest, operators } = await runOperators(env, t, ns);
  const created = await applyExample(rest, ns, FILE);
  const uid = created.get(`FederatedLearningJob/${NAME}`)?.metadata.uid as string;

  const pending = await until('pods and Pending', 20_000, async () => {
    const s = await jobStatus(rest, ns);
    return s.phase === 'Pending' && (await list(rest, RESOURCES.Pod, ns)).length === 3 ? s : undefined;
  });
  assert.equal(pending.active, 3);
  assert.equal(pending.succeeded, 0);
  assert.equal(pending.failed, 0);

  const pods = new Map((await list(rest, RESOURCES.Pod, ns)).map((p) => [p.metadata.name, p]));
  assert.deepEqual([...pods.keys()].sort(), [AGG, ...TRAIN]);
  for (const p of pods.values()) {
    assert.deepEqual(p.metadata.ownerReferences, [
      {
        apiVersion: 'sedna.io/v1alpha1',
        kind: 'FederatedLearningJob',
        name: NAME,
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(p.metadata.labels?.['federatedlearningjob.sedna.io/name'], NAME);
    assert.equal(p.metadata.labels?.['federatedlearningjob.sedna.io/uid'], uid);
    assert.equal(p.spec.restartPolicy, 'OnFailure');
  }

  const agg = pods.get(AGG) as KubeObject;
  assert.equal(agg.metadata.labels?.['federatedlearningjob.sedna.io/worker-type'], 'aggregation');
  assert.equal(agg.spec.nodeName, 'cloud-node');
  const aggEnv = envOf(agg.spec);
  assert.equal(aggEnv.exit_round, '3', 'the template env stays');
  assert.equal(aggEnv.AGG_BIND_PORT, '7363');
  assert.equal(aggEnv.PARTICIPANTS_COUNT, '2');
  assert.equal(aggEnv.TRANSMITTER, 'ws');
  assert.equal(aggEnv.JOB_NAME, NAME);
  assert.equal(aggEnv.NAMESPACE, ns);
  assert.equal(aggEnv.MODEL_URL, '/home/data/model');
  assert.match(aggEnv.WORKER_NAME as string, /^aggworker-[a-z0-9]{5}$/);
  // (the ServiceAccount admission plugin adds its token volume after ours)
  assert.deepEqual(agg.spec.volumes[0], {
    name: 'sedna-default-volume-name',
    hostPath: { path: '/', type: 'Directory' },
  });

  TRAIN.forEach((name, i) => {
    const p = pods.get(name) as KubeObject;
    assert.equal(p.metadata.labels?.['federatedlearningjob.sedna.io/worker-type'], 'train');
    assert.equal(p.spec.nodeName, `edge-node-${i + 1}`);
    assert.equal(p.spec.hostNetwork, true);
    const e = envOf(p.spec);
    assert.equal(e.AGG_IP, `${NAME}-aggregation.${ns}`);
    assert.equal(e.AGG_PORT, '7363');
    assert.equal(e.DATASET_NAME, `edge${i + 1}-surface-defect-detection-dataset`);
    assert.equal(e.MODEL_NAME, 'surface-defect-detection-model');
    assert.equal(e.TRAIN_DATASET_URL, `/home/data/data/${i + 1}.txt`);
    assert.equal(e.LC_SERVER, 'http://localhost:9100');
    assert.equal(e.batch_size, '32');
  });

  const svc = (await get(rest, RESOURCES.Service, ns, `${NAME}-aggregation`)) as KubeObject;
  assert.deepEqual(svc.spec.ports, [{ name: 'tcp-0', protocol: 'TCP', port: 7363, targetPort: 7363 }]);
  assert.equal(svc.spec.selector['federatedlearningjob.sedna.io/worker-type'], 'aggregation');

  // Kubelets start the pods: Running, with a Training condition.
  for (const name of [AGG, ...TRAIN]) await setPodPhase(rest, ns, name, 'Running');
  const running = await until('Running', 20_000, async () => {
    const s = await jobStatus(rest, ns);
    return s.phase === 'Running' ? s : undefined;
  });
  assert.deepEqual(
    running.conditions.map((c: { type: string }) => c.type),
    ['Training'],
  );

  // Nothing changes when nothing changed.
  const term = operators.term();
  assert.ok(term);
  await until('idle', 10_000, () => term.idle());
  const kinds = [RESOURCES.Pod, RESOURCES.Service, RESOURCES.FederatedLearningJob];
  const before = await versions(rest, ns, kinds);
  await term.reconcileNow(`FederatedLearningJob/${ns}/${NAME}`, AbortSignal.timeout(10_000));
  await term.reconcileNow(`FederatedLearningJob/${ns}/${NAME}`, AbortSignal.timeout(10_000));
  assert.deepEqual(await versions(rest, ns, kinds), before);

  // All finish: Succeeded with a Complete condition and a completion time.
  for (const name of [...TRAIN, AGG]) await setPodPhase(rest, ns, name, 'Succeeded');
  const done = await until('Succeeded', 20_000, async () => {
    const s = await jobStatus(rest, ns);
    return s.phase === 'Succeeded' ? s : undefined;
  });
  assert.equal(done.succeeded, 3);
  assert.equal(done.active, 0);
  assert.ok(done.completionTime);
  assert.deepEqual(
    done.conditions.map((c: { type: string }) => c.type),
    ['Training', 'Complete'],
  );
});

test('FederatedLearningJob: a deleted pod comes back, a new spec replaces the pods, a failed worker fails the job', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await applyExample(rest, ns, FILE);
  await until('pods', 20_000, async () => (await list(rest, RESOURCES.Pod, ns)).length === 3);

  // Deleted (the kubelet confirms): created again under the same name.
  const old = (await get(rest, RESOURCES.Pod, ns, TRAIN[1] as string)) as KubeObject;
  await rest.request('DELETE', `/api/v1/namespaces/${ns}/pods/${TRAIN[1]}`, { body: { gracePeriodSeconds: 0 } });
  await until('re-created', 20_000, async () => {
    const p = await get(rest, RESOURCES.Pod, ns, TRAIN[1] as string);
    return p && p.metadata.uid !== old.metadata.uid;
  });

  // A new spec (generation 2): the pods of generation 1 are deleted and created again from it.
  await rest.request('PATCH', jobPath(ns), {
    body: { spec: { aggregationWorker: { template: { spec: { nodeName: 'cloud-node-2' } } } } },
    contentType: 'application/merge-patch+json',
  });
  const replaced = await until('replaced from generation 2', 30_000, async () => {
    await finishPodDeletions(rest, ns);
    const p = await get(rest, RESOURCES.Pod, ns, AGG);
    return p?.spec.nodeName === 'cloud-node-2' ? p : undefined;
  });
  assert.equal(replaced.metadata.annotations?.['fedmesh.io/owner-generation'], '2');
  await until('all from generation 2', 30_000, async () => {
    await finishPodDeletions(rest, ns);
    const pods = await list(rest, RESOURCES.Pod, ns);
    return pods.length === 3 && pods.every((p) => p.metadata.annotations?.['fedmesh.io/owner-generation'] === '2');
  });

  await setPodPhase(rest, ns, AGG, 'Running');
  await setPodPhase(rest, ns, TRAIN[0] as string, 'Failed');
  const failed = await until('Failed', 20_000, async () => {
    const s = await jobStatus(rest, ns);
    return s.phase === 'Failed' ? s : undefined;
  });
  assert.equal(failed.failed, 1);
  const last = failed.conditions.at(-1);
  assert.equal(last.type, 'Failed');
  assert.equal(last.reason, 'workerFailed');

  // Deleting the job deletes its pods (once a kubelet confirms) and its Service.
  await rest.request('DELETE', jobPath(ns));
  await until('dependents gone', 30_000, async () => {
    await finishPodDeletions(rest, ns);
    const [p, s] = await Promise.all([list(rest, RESOURCES.Pod, ns), list(rest, RESOURCES.Service, ns)]);
    return p.length === 0 && s.length === 0;
  });
});
