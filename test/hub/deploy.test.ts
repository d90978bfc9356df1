import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KubernetesObjectApi, loadAllYaml } from '@kubernetes/client-node';
import { installCrds } from '../../crds/install.ts';
import { GM_NODE_OPTIONS } from '../../gm/hub/constants.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, daemonSetToken, dataset, get, HUB_ONLY, saToken, startTestLc, until } from './helpers.ts';

const env = useEnvtest();
const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

// client-node returns model instances; plain JSON compares and sends like the YAML reads.
const load = (file: string) =>
  JSON.parse(JSON.stringify(loadAllYaml(readFileSync(join(DEPLOY, file), 'utf8')))) as Obj[];

test('deploy/gm-rbac.yaml, gm.yaml, lc.yaml and mesh.yaml apply, and a replica running with their RBAC serves an LC with their token', async (t) => {
  await installCrds(env.kubeConfig());
  const objects = [...load('gm-rbac.yaml'), ...load('gm.yaml'), ...load('lc.yaml'), ...load('mesh.yaml')];
  const api = env.kubeConfig().makeApiClient(KubernetesObjectApi);
  for (const o of objects) await api.create(o as never);

  // The shapes Sedna's tooling and the issue expect.
  const gm = objects.find((o) => o.kind === 'Deployment') as {
    spec: { replicas: number; template: { spec: { containers: unknown[] } } };
  } & Obj;
  assert.equal(gm.spec.replicas, 3);
  const c = gm.spec.template.spec.containers[0] as {
    args: string[];
    env: Array<{ name: string; value?: string }>;
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
  };
  assert.equal(c.livenessProbe.httpGet.path, '/livez');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(c.args.includes('--readyz=replica'));
  assert.equal(
    c.env.find((e) => e.name === 'NODE_OPTIONS')?.value,
    GM_NODE_OPTIONS,
    'the options the hub bench measured',
  );
  const svc = objects.find((o) => o.kind === 'Service') as Obj & {
    spec: { ports: Array<{ name: string; port: number }> };
  };
  assert.equal(svc.metadata.name, 'gm');
  assert.deepEqual(svc.spec.ports[0], { name: 'tcp-0', port: 9000, targetPort: 'tcp-0' });
  const ds = objects.find((o) => o.kind === 'DaemonSet') as Obj & {
    spec: {
      template: {
        spec: Record<string, unknown> & {
          containers: Array<{ env: Array<{ name: string }>; args: string[] }>;
          volumes: Array<{ projected?: { sources: Array<{ serviceAccountToken?: { audience: string } }> } }>;
        };
      };
    };
  };
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.deepEqual(pod.containers[0]?.env.map((e) => e.name).slice(0, 2), ['GM_ADDRESS', 'NODENAME']);
  assert.ok(pod.volumes.some((v) => v.projected?.sources.some((s) => s.serviceAccountToken?.audience === 'fedmesh')));
  // The mesh beside both (docs/adr/0005; flags checked in deploy/manifests.test.ts), stored as written.
  const stored = await api.read({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'lc', namespace: 'sedna' },
  } as never);
  const storedNames = (stored as unknown as { spec: { template: { spec: { containers: Array<{ name: string }> } } } })
    .spec.template.spec.containers;
  assert.deepEqual(
    storedNames.map((x) => x.name),
    ['lc', 'mesh'],
  );
  assert.deepEqual(
    (gm.spec.template.spec.containers as Array<{ name: string }>).map((x) => x.name),
    ['gm', 'mesh'],
  );
  assert.ok(objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fedmesh-mesh-config'));

  // A replica authenticated as the manifest's ServiceAccount (only the manifest's RBAC), an LC with
  // the DaemonSet's pod-bound token: served, and its report written.
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await create(rest, 'sedna', 'Dataset', dataset('ds-1', 'edge-1'));
  const kubeconfig = join(env.plane.dir, 'kubeconfig-sedna-gm');
  writeFileSync(kubeconfig, env.plane.tokenKubeConfig(await saToken(rest, 'sedna', 'sedna')).exportConfig());
  const replica = await startReplica(env.plane, {
    id: 'gm-0',
    namespace: 'sedna',
    readyz: 'replica',
    kubeconfig,
    args: HUB_ONLY,
  });
  t.after(() => replica.proc.stop('SIGKILL'));
  await until('replica ready with the manifest RBAC', 30_000, async () => (await replica.readyz()) === 200);
  const lc = startTestLc(
    'edge-1',
    [`ws://127.0.0.1:${replica.wsPort}/`],
    await daemonSetToken(rest, 'sedna', 'edge-1'),
  );
  t.after(() => lc.stop());
  await until('served', 10_000, () => lc.keys().includes('Dataset/ds-1'));
  lc.lc.report({ kind: 'Dataset', namespace: 'sedna', name: 'ds-1', status: { numberOfSamples: 3 } });
  await until(
    'report written',
    10_000,
    async () => (await get(rest, 'sedna', 'Dataset', 'ds-1')).status?.numberOfSamples === 3,
  );
  await until('connection Lease written', 10_000, async () => {
    const l = await rest
      .request<{ spec?: { holderIdentity?: string } }>(
        'GET',
        '/apis/coordination.k8s.io/v1/namespaces/sedna/leases/fedmesh-lc-edge-1',
      )
      .catch(() => undefined);
    return l?.spec?.holderIdentity === 'gm-0';
  });
});
