import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  ApiException,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Lease,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { startControlPlane, useEnvtest } from './index.ts';

const env = useEnvtest();

function lease(name: string, holder: string): V1Lease {
  return { metadata: { name }, spec: { holderIdentity: holder, leaseDurationSeconds: 15 } };
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

test('the API server reports the pinned Kubernetes version', async () => {
  const v = await env.kubeConfig().makeApiClient(VersionApi).getCode();
  assert.equal(v.gitVersion, 'v1.34.4');
});

test('a Lease can be created, read, updated and deleted', async (t) => {
  const namespace = await env.namespace(t);
  const api = env.kubeConfig().makeApiClient(CoordinationV1Api);
  const created = await api.createNamespacedLease({ namespace, body: lease('l1', 'a') });
  assert.equal(created.spec?.holderIdentity, 'a');
  const got = await api.readNamespacedLease({ namespace, name: 'l1' });
  assert.equal(got.metadata?.resourceVersion, created.metadata?.resourceVersion);
  got.spec = { ...got.spec, holderIdentity: 'b' };
  const updated = await api.replaceNamespacedLease({ namespace, name: 'l1', body: got });
  assert.equal(updated.spec?.holderIdentity, 'b');
  assert.notEqual(updated.metadata?.resourceVersion, created.metadata?.resourceVersion);
  await api.deleteNamespacedLease({ namespace, name: 'l1' });
  assert.equal(await status(api.readNamespacedLease({ namespace, name: 'l1' })), 404);
});

test('an update with a stale resourceVersion is refused with 409 Conflict', async (t) => {
  const namespace = await env.namespace(t);
  const api = env.kubeConfig().makeApiClient(CoordinationV1Api);
  const v1 = await api.createNamespacedLease({ namespace, body: lease('l2', 'a') });
  const fresh = structuredClone(v1);
  fresh.spec = { ...fresh.spec, holderIdentity: 'b' };
  await api.replaceNamespacedLease({ namespace, name: 'l2', body: fresh });
  const stale = structuredClone(v1);
  stale.spec = { ...stale.spec, holderIdentity: 'c' };
  assert.equal(await status(api.replaceNamespacedLease({ namespace, name: 'l2', body: stale })), 409);
  const now = await api.readNamespacedLease({ namespace, name: 'l2' });
  assert.equal(now.spec?.holderIdentity, 'b');
});

test('a watch sees a change of a Lease', async (t) => {
  const namespace = await env.namespace(t);
  const kc = env.kubeConfig();
  const api = kc.makeApiClient(CoordinationV1Api);
  const created = await api.createNamespacedLease({ namespace, body: lease('l3', 'a') });
  const seen = new Promise<V1Lease>((resolve, reject) => {
    const w = new Watch(kc);
    void w
      .watch(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        { resourceVersion: created.metadata?.resourceVersion },
        (phase, obj: V1Lease) => {
          if (phase === 'MODIFIED') resolve(obj);
        },
        (err) => (err ? reject(err) : undefined),
      )
      .then((ac) => t.after(() => ac.abort()));
  });
  const patched = structuredClone(created);
  patched.spec = { ...patched.spec, holderIdentity: 'z' };
  await api.replaceNamespacedLease({ namespace, name: 'l3', body: patched });
  const ev = await seen;
  assert.equal(ev.spec?.holderIdentity, 'z');
});

test('an identity without RBAC permission gets 403 Forbidden', async (t) => {
  const namespace = await env.namespace(t);
  // A certificate identity with no bindings.
  const kc = new KubeConfig();
  kc.loadFromFile(await env.plane.userKubeconfig('nobody'));
  const api = kc.makeApiClient(CoordinationV1Api);
  assert.equal(await status(api.createNamespacedLease({ namespace, body: lease('l4', 'x') })), 403);
  assert.equal(await status(api.listNamespacedLease({ namespace })), 403);

  // A ServiceAccount token (signed with the control plane's SA key) is authenticated but not authorized.
  const core = env.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lc' } } });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace,
    name: 'lc',
    body: { spec: { audiences: ['fedmesh'], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  assert.ok(token);
  const saApi = env.plane.tokenKubeConfig(token).makeApiClient(CoordinationV1Api);
  assert.equal(await status(saApi.listNamespacedLease({ namespace })), 403);
  const review = await env
    .kubeConfig()
    .makeApiClient(AuthenticationV1Api)
    .createTokenReview({ body: { spec: { token, audiences: ['fedmesh'] } } });
  assert.equal(review.status?.authenticated, true);
  assert.equal(review.status?.user?.username, `system:serviceaccount:${namespace}:lc`);
});

test('stop() ends every process and removes the temp dir', async () => {
  const plane = await startControlPlane();
  const { etcdPid, apiserverPid } = plane.state;
  assert.ok(existsSync(`/proc/${etcdPid}`) && existsSync(`/proc/${apiserverPid}`));
  await plane.stop();
  for (const pid of [etcdPid, apiserverPid]) {
    const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    assert.ok(!cmd.includes('etcd') && !cmd.includes('kube-apiserver'), `pid ${pid} still running`);
  }
  assert.equal(existsSync(plane.dir), false);
});
