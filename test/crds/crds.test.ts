/**
 * The generated CRDs against a real kube-apiserver: accepted as structural, Established, Sedna's
 * example manifests apply unchanged, status goes through /status, printer columns print, and the
 * API server refuses the same invalid objects as the TS validator, naming the same field.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { DeadlineError } from '../../common/errors.ts';
import { crdManifest, GROUP, KINDS, type KindName, kindDefinition, VERSION, validate } from '../../crds/index.ts';
import { exampleObject, loadExamples } from '../../examples/index.ts';
import { INVALID } from '../../examples/invalid.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest();

// biome-ignore lint/suspicious/noExplicitAny: API objects are read field by field
type Obj = Record<string, any>;

let installing: Promise<void> | undefined;
/** Creates every CRD once per control plane (CRDs are cluster-scoped) and waits until all are Established. */
function installCrds(): Promise<void> {
  installing ??= (async () => {
    const api = env.kubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const k of KINDS) await api.createCustomResourceDefinition({ body: crdManifest(k.kind) });
    const signal = AbortSignal.timeout(30_000);
    for (const k of KINDS) {
      const name = `${k.plural}.${GROUP}`;
      for (;;) {
        const crd = await api.readCustomResourceDefinition({ name });
        if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
        if (signal.aborted) throw new DeadlineError(`CRD ${name} not Established after 30 s`);
        await sleep(100);
      }
    }
    // Established precedes serving by a moment: 404 until the handler exists, then 429 "storage is
    // (re)initializing" while the new resource's watch cache fills. A list that succeeds ends both.
    const objects = customObjects();
    for (const k of KINDS) {
      for (;;) {
        const served = await objects
          .listClusterCustomObject({ group: GROUP, version: VERSION, plural: k.plural })
          .then(() => true)
          .catch((err: unknown) => {
            if (err instanceof ApiException && (err.code === 404 || err.code === 429)) return false;
            throw err;
          });
        if (served) break;
        if (signal.aborted) throw new DeadlineError(`${k.plural} not served after 30 s`);
        await sleep(100);
      }
    }
  })();
  return installing;
}

function customObjects(): CustomObjectsApi {
  return env.kubeConfig().makeApiClient(CustomObjectsApi);
}

function where(kind: KindName, namespace: string) {
  return { group: GROUP, version: VERSION, namespace, plural: kindDefinition(kind).plural };
}

/** The ApiException's HTTP code and parsed Status body; fails if the call succeeded. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; status: Obj }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body as Obj };
  }
  assert.fail('the API server accepted the object');
}

/** A list as a server-side Table (what `kubectl get` prints). */
async function table(kc: KubeConfig, path: string): Promise<Obj> {
  const url = new URL(path, kc.getCurrentCluster()?.server);
  const opts = { method: 'GET', headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(text))));
    });
    req.on('error', reject);
    req.end();
  });
}

test('every CRD is accepted, becomes Established and keeps the names Sedna uses', async () => {
  await installCrds();
  const api = env.kubeConfig().makeApiClient(ApiextensionsV1Api);
  for (const k of KINDS) {
    const crd = await api.readCustomResourceDefinition({ name: `${k.plural}.${GROUP}` });
    const names = crd.status?.acceptedNames;
    assert.equal(names?.kind, k.kind);
    assert.deepEqual(names?.shortNames ?? [], [...k.shortNames]);
    assert.deepEqual(names?.categories, ['sedna']);
    assert.ok(crd.status?.conditions?.some((c) => c.type === 'NamesAccepted' && c.status === 'True'));
  }
});

const files = [...new Set(loadExamples().map((e) => e.file))];
for (const file of files) {
  test(`the ${file} example applies unchanged and reads back as written`, async (t) => {
    await installCrds();
    const namespace = await env.namespace(t, 'crds');
    const api = customObjects();
    for (const { object } of loadExamples().filter((e) => e.file === file)) {
      const kind = object.kind as KindName;
      await api.createNamespacedCustomObject({ ...where(kind, namespace), body: object });
      const got: Obj = await api.getNamespacedCustomObject({ ...where(kind, namespace), name: object.metadata.name });
      assert.deepEqual(got.spec, object.spec, `${object.kind}/${object.metadata.name} spec changed on the way`);
      const r = validate(kind, got);
      assert.ok(r.ok, `the validator refuses what the API server returned: ${r.ok ? '' : JSON.stringify(r.issues)}`);
    }
  });
}

test('status is written only through the status subresource and printer columns show it', async (t) => {
  await installCrds();
  const namespace = await env.namespace(t, 'crds');
  const api = customObjects();
  const at = where('IncrementalLearningJob', namespace);
  const job = exampleObject('IncrementalLearningJob/helmet-detection-demo');
  const name = 'helmet-detection-demo';
  const created: Obj = await api.createNamespacedCustomObject({
    ...at,
    body: { ...job, status: { startTime: '2021-06-01T10:00:00Z' } },
  });
  assert.equal(created.status, undefined, 'status is dropped on create');

  // As Sedna's GM writes it: the whole object to /status, zero times as null.
  const status = {
    startTime: '2021-06-01T10:00:00Z',
    conditions: [
      { type: 'Waiting', status: 'True', stage: 'Train', lastHeartbeatTime: null, lastTransitionTime: null },
      { type: 'Running', status: 'True', stage: 'Eval', lastHeartbeatTime: '2021-06-01T11:00:00Z', reason: '' },
    ],
  };
  const body = { ...created, spec: { ...created.spec, outputDir: '/elsewhere' }, status };
  await api.replaceNamespacedCustomObjectStatus({ ...at, name, body });
  const got: Obj = await api.getNamespacedCustomObject({ ...at, name });
  assert.equal(got.spec.outputDir, '/output', 'a /status write leaves spec alone');
  assert.deepEqual(got.status.conditions[0], { type: 'Waiting', status: 'True', stage: 'Train' });
  const r = validate('IncrementalLearningJob', got);
  assert.ok(r.ok);
  assert.deepEqual(r.value.status, got.status, 'the validator prunes nulls as the API server does');

  const bad = { ...got, status: { startTime: 'yesterday' } };
  const { code, status: refused } = await refusal(api.replaceNamespacedCustomObjectStatus({ ...at, name, body: bad }));
  assert.equal(code, 422);
  assert.ok(refused.details.causes.some((c: Obj) => c.field === 'status.startTime'));
  const ours = validate('IncrementalLearningJob', bad);
  assert.ok(!ours.ok && ours.issues.some((i) => i.path === 'status.startTime'));

  const tbl = await table(
    env.kubeConfig(),
    `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/incrementallearningjobs`,
  );
  assert.deepEqual(
    tbl.columnDefinitions.map((c: Obj) => c.name),
    ['Name', ...kindDefinition('IncrementalLearningJob').printerColumns.map((c) => c.name)],
  );
  assert.deepEqual(tbl.rows[0].cells.slice(0, 3), [name, 'Eval', 'Running']);
});

test('nulls sent by Go clients are pruned in declared fields and kept inside pod templates', async (t) => {
  await installCrds();
  const namespace = await env.namespace(t, 'crds');
  const api = customObjects();
  const at = where('JointInferenceService', namespace);
  const svc: Obj = exampleObject('JointInferenceService/helmet-detection-inference-example');
  svc.spec.edgeWorker.hpa = null;
  svc.spec.cloudWorker.template.metadata = { creationTimestamp: null };
  const got: Obj = await api.createNamespacedCustomObject({ ...at, body: svc });
  assert.equal('hpa' in got.spec.edgeWorker, false);
  assert.deepEqual(got.spec.cloudWorker.template.metadata, { creationTimestamp: null });
  const r = validate('JointInferenceService', svc);
  assert.ok(r.ok);
  assert.deepEqual(r.value.spec, got.spec, 'the validator and the API server store the same spec');
});

for (const c of INVALID.filter((x) => x.apiServer !== false)) {
  test(`the API server refuses with 422, naming ${c.path}: ${c.name}`, async (t) => {
    await installCrds();
    const namespace = await env.namespace(t, 'crds');
    const { code, status } = await refusal(
      customObjects().createNamespacedCustomObject({ ...where(c.kind, namespace), body: c.obj() }),
    );
    assert.equal(code, 422);
    assert.equal(status.reason, 'Invalid');
    const fields = (status.details?.causes ?? []).map((x: Obj) => x.field);
    assert.ok(fields.includes(c.path), `causes name ${JSON.stringify(fields)}; message: ${status.message}`);
  });
}
