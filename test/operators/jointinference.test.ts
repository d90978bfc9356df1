import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installCrds } from '../../crds/index.ts';
import { FIELD_MANAGER } from '../../gm/operators/constants.ts';
import type { KubeObject } from '../../gm/operators/resources.ts';
import { useEnvtest } from '../envtest/index.ts';
import {
  applyExample,
  create,
  envOf,
  example,
  get,
  list,
  RESOURCES,
  runOperators,
  until,
  versions,
} from './harness.ts';

// The garbage collector deletes what the operators created when its owner goes; it must know the
// Sedna kinds from its start.
const env = useEnvtest({ controllers: ['garbagecollector'], beforeControllers: (kc) => installCrds(kc) });

const FILE = 'joint-inference-helmet-detection.yaml';
const NAME = 'helmet-detection-inference-example';
const last = (o: KubeObject | undefined) => o?.status?.conditions?.at(-1);

test('JointInferenceService: cloud and edge Deployments and the cloud Service, as Sedna makes them', async (t) => {
  const ns = await env.namespace(t);
  const { rest, operators } = await runOperators(env, t, ns);
  const created = await applyExample(rest, ns, FILE);
  const jis = created.get(`JointInferenceService/${NAME}`) as KubeObject;
  const uid = jis.metadata.uid as string;

  const status = await until('status Running', 20_000, async () => {
    const cur = await get(rest, RESOURCES.JointInferenceService, ns, NAME);
    return last(cur)?.type === 'Running' ? cur?.status : undefined;
  });
  assert.equal(status.active, 2);
  assert.equal(status.failed, 0);
  assert.match(status.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(
    status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]),
    [['Running', 'True']],
  );

  const deployments = await list(rest, RESOURCES.Deployment, ns);
  assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), [
    `${NAME}-deployment-cloud`,
    `${NAME}-deployment-edge`,
  ]);
  const services = await list(rest, RESOURCES.Service, ns);
  assert.deepEqual(
    services.map((s) => s.metadata.name),
    [`${NAME}-cloud`],
  );

  for (const d of deployments) {
    const worker = d.metadata.name.endsWith('-cloud') ? 'cloud' : 'edge';
    const labels = {
      'jointinferenceservice.sedna.io/name': NAME,
      'jointinferenceservice.sedna.io/uid': uid,
      'jointinferenceservice.sedna.io/worker-type': worker,
      'app.sedna.io': `${NAME}-${worker === 'cloud' ? 'Cloud' : 'Edge'}-svc`,
    };
    assert.deepEqual(d.metadata.labels, labels, `${worker} labels`);
    assert.deepEqual(d.spec.selector.matchLabels, labels);
    assert.deepEqual(d.spec.template.metadata.labels, labels);
    assert.deepEqual(d.metadata.ownerReferences, [
      {
        apiVersion: 'sedna.io/v1alpha1',
        kind: 'JointInferenceService',
        name: NAME,
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.ok(
      (d.metadata as { managedFields?: { manager: string; operation: string }[] }).managedFields?.some(
        (m: { manager: string; operation: string }) => m.manager === FIELD_MANAGER && m.operation === 'Apply',
      ),
      'written by server-side apply as fedmesh-gm',
    );
  }
  const cloud = deployments.find((d) => d.metadata.name.endsWith('-cloud')) as KubeObject;
  const edge = deployments.find((d) => d.metadata.name.endsWith('-edge')) as KubeObject;

  const cloudEnv = envOf(cloud.spec);
  assert.equal(cloudEnv.input_shape, '544,544', 'the template env stays');
  assert.equal(cloudEnv.BIG_MODEL_BIND_PORT, '5000');
  assert.equal(cloudEnv.MODEL_URL, '/home/data/data/big-model/yolov3_darknet.pb');
  assert.equal(cloudEnv.DATA_PATH_PREFIX, '/home/data');
  assert.equal(cloudEnv.NAMESPACE, ns);
  assert.equal(cloudEnv.SERVICE_NAME, NAME);
  assert.match(cloudEnv.WORKER_NAME as string, /^cloudworker-[a-z0-9]{5}$/);
  const cloudPod = cloud.spec.template.spec;
  assert.deepEqual(cloudPod.volumes, [
    { name: 'data-big-modelz', hostPath: { path: '/data/big-model/', type: 'Directory' } },
  ]);
  assert.deepEqual(cloudPod.containers[0].volumeMounts, [
    { name: 'data-big-modelz', mountPath: '/home/data/data/big-model/' },
  ]);
  assert.equal(cloudPod.nodeName, 'cloud-node');

  const edgeEnv = envOf(edge.spec);
  assert.equal(edgeEnv.BIG_MODEL_IP, `${NAME}-cloud.${ns}`);
  assert.equal(edgeEnv.BIG_MODEL_PORT, '5000');
  assert.equal(edgeEnv.HEM_NAME, 'IBT');
  assert.deepEqual(JSON.parse(edgeEnv.HEM_PARAMETERS as string), [
    { key: 'threshold_img', value: '0.9' },
    { key: 'threshold_box', value: '0.9' },
  ]);
  assert.equal(edgeEnv.LC_SERVER, 'http://localhost:9100');
  assert.equal(edgeEnv.MODEL_URL, '/home/data/data/little-model/yolov3_resnet18.pb');
  assert.equal(edgeEnv.video_url, 'rtsp://localhost/video');
  assert.match(edgeEnv.WORKER_NAME as string, /^edgeworker-[a-z0-9]{5}$/);
  assert.equal(edge.spec.template.spec.nodeName, 'edge-node-1');

  const svc = services[0] as KubeObject;
  assert.deepEqual(svc.spec.ports, [{ name: 'tcp-0', protocol: 'TCP', port: 5000, targetPort: 5000 }]);
  assert.deepEqual(svc.spec.selector, {
    'jointinferenceservice.sedna.io/name': NAME,
    'jointinferenceservice.sedna.io/uid': uid,
    'jointinferenceservice.sedna.io/worker-type': 'cloud',
  });
  assert.equal(svc.metadata.ownerReferences?.[0]?.uid, uid);

  // Level-based and idempotent: reconciling every key again changes nothing.
  const kinds = [RESOURCES.Deployment, RESOURCES.Service, RESOURCES.JointInferenceService, RESOURCES.Model];
  const term = operators.term();
  assert.ok(term);
  await until('operators idle', 10_000, () => term.idle());
  const before = await versions(rest, ns, kinds);
  const signal = AbortSignal.timeout(10_000);
  for (const key of [
    `JointInferenceService/${ns}/${NAME}`,
    ...[...created.values()].map((o) => `${o.kind}/${ns}/${o.metadata.name}`),
  ]) {
    await term.reconcileNow(key, signal);
    await term.reconcileNow(key, signal);
  }
  assert.deepEqual(await versions(rest, ns, kinds), before, 'resourceVersions unchanged');
});

test('JointInferenceService: waits for its models, follows its Deployments, re-creates what is deleted', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await create(rest, ns, example(`JointInferenceService/${NAME}`));
  const pending = await until('Pending without models', 20_000, async () => {
    const c = last(await get(rest, RESOURCES.JointInferenceService, ns, NAME));
    return c?.type === 'Pending' ? c : undefined;
  });
  assert.equal(pending.reason, 'ModelNotFound');
  assert.equal((await list(rest, RESOURCES.Deployment, ns)).length, 0);

  await create(rest, ns, example('Model/helmet-detection-inference-big-model'));
  await create(rest, ns, example('Model/helmet-detection-inference-little-model'));
  await until('Running once the models exist', 20_000, async () => {
    return last(await get(rest, RESOURCES.JointInferenceService, ns, NAME))?.type === 'Running';
  });
  assert.equal((await list(rest, RESOURCES.Deployment, ns)).length, 2);

  // Someone deletes the edge Deployment: it comes back (Sedna re-creates it too).
  const edgeName = `${NAME}-deployment-edge`;
  const old = (await get(rest, RESOURCES.Deployment, ns, edgeName)) as KubeObject;
  await rest.request('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/${edgeName}`);
  await until('edge Deployment re-created', 20_000, async () => {
    const d = await get(rest, RESOURCES.Deployment, ns, edgeName);
    return d && d.metadata.uid !== old.metadata.uid;
  });

  // A new model URL reaches the Deployment (the Model's change wakes the service).
  await rest.request(
    'PATCH',
    `/apis/sedna.io/v1alpha1/namespaces/${ns}/models/helmet-detection-inference-little-model`,
    {
      body: { spec: { url: 's3://models/little/v2.pb' } },
      contentType: 'application/merge-patch+json',
    },
  );
  const edge = await until('edge env follows the model', 20_000, async () => {
    const d = await get(rest, RESOURCES.Deployment, ns, edgeName);
    return envOf(d?.spec).MODEL_URL === '/downloads/models/little/v2.pb' ? d : undefined;
  });
  const init = edge.spec.template.spec.initContainers;
  assert.equal(init.length, 1, 'an s3 model is downloaded by the storage initializer');
  assert.equal(init[0].name, 'storage-initializer');
  assert.deepEqual(init[0].args, ['s3://models/little/v2.pb', '/downloads/models/little/']);

  // The deployment controller would report a stuck rollout like this: the service fails, for good.
  await rest.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${NAME}-deployment-cloud/status`, {
    body: {
      status: {
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'timed out',
            lastUpdateTime: new Date().toISOString(),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      },
    },
    contentType: 'application/merge-patch+json',
  });
  const failed = await until('Failed', 20_000, async () => {
    const s = await get(rest, RESOURCES.JointInferenceService, ns, NAME);
    return last(s)?.type === 'Failed' ? s?.status : undefined;
  });
  assert.equal(failed.failed, 1);
  assert.equal(failed.active, 1);
  assert.equal(last({ metadata: { name: '' }, status: failed }).reason, 'workerFailed');
});

test('JointInferenceService: deleting it deletes its Deployments and Service (ownerReferences)', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await applyExample(rest, ns, FILE);
  await until('children', 20_000, async () => (await list(rest, RESOURCES.Deployment, ns)).length === 2);
  await rest.request('DELETE', `/apis/sedna.io/v1alpha1/namespaces/${ns}/jointinferenceservices/${NAME}`);
  await until('dependents gone', 30_000, async () => {
    const [d, s] = await Promise.all([list(rest, RESOURCES.Deployment, ns), list(rest, RESOURCES.Service, ns)]);
    return d.length === 0 && s.length === 0;
  });
});

test('JointInferenceService: a worker template the API server refuses fails the service with its message', async (t) => {
  const ns = await env.namespace(t);
  const { rest } = await runOperators(env, t, ns);
  await create(rest, ns, example('Model/helmet-detection-inference-big-model'));
  await create(rest, ns, example('Model/helmet-detection-inference-little-model'));
  // The CRD keeps pod templates opaque (as Sedna's): this one passes the schema, not Deployment validation.
  const bad = example(`JointInferenceService/${NAME}`);
  bad.spec.edgeWorker.template = { spec: { nodeName: 'edge-node-1' } };
  await create(rest, ns, bad);
  const failed = await until('Failed', 20_000, async () => {
    const c = last(await get(rest, RESOURCES.JointInferenceService, ns, NAME));
    return c?.type === 'Failed' ? c : undefined;
  });
  assert.equal(failed.reason, 'InvalidWorker');
  assert.ok(String(failed.message).includes(`${NAME}-deployment-edge`), 'names the refused object');
  t.diagnostic(String(failed.message));
  assert.equal((await list(rest, RESOURCES.Deployment, ns)).filter((d) => d.metadata.name.endsWith('-edge')).length, 0);
});
