/**
 * Helpers for the fallback integration tests: the LC's API identity (a ServiceAccount token bound
 * to a pod on its node, audience the API server), deploy/lc-status-policy.yaml applied for a test
 * namespace, and a fallback run against an endpoint.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { KubernetesObjectApi, loadAllYaml } from '@kubernetes/client-node';
import type { KubeRest } from '../../common/kube/rest.ts';
import { createFallback, type Fallback, type FallbackInit } from '../../lc/fallback/index.ts';
import { createMemoryStore } from '../../lc/store/memory.ts';
import type { LcStore } from '../../lc/store/types.ts';
import type { Envtest } from '../envtest/index.ts';
import { testLogger } from '../operators/harness.ts';

const POLICY = join(import.meta.dirname, '..', '..', 'deploy', 'lc-status-policy.yaml');

/**
 * deploy/lc-status-policy.yaml for namespace `ns` (its identities and binding subjects), with the
 * cluster-scoped names suffixed so that tests do not share them; deleted after `t`.
 */
export async function applyStatusPolicy(env: Envtest, t: TestContext, ns: string): Promise<void> {
  const text = readFileSync(POLICY, 'utf8').replaceAll('system:serviceaccount:sedna:', `system:serviceaccount:${ns}:`);
  const objs = JSON.parse(JSON.stringify(loadAllYaml(text))) as Array<{
    metadata: { name: string };
    roleRef?: { name: string };
    spec?: { policyName?: string };
    subjects?: Array<{ namespace?: string }>;
  }>;
  for (const o of objs) {
    o.metadata.name = `${o.metadata.name}-${ns}`;
    if (o.roleRef) o.roleRef.name = `${o.roleRef.name}-${ns}`;
    if (o.spec?.policyName) o.spec.policyName = `${o.spec.policyName}-${ns}`;
    for (const s of o.subjects ?? []) s.namespace = ns;
  }
  const api = env.kubeConfig().makeApiClient(KubernetesObjectApi);
  for (const o of objs) await api.create(o as never);
  t.after(async () => {
    for (const o of objs.reverse()) await api.delete(o as never).catch(() => {});
  });
}

/** A token of ServiceAccount `lc` in `ns`, bound to a new pod on `node`, for the API server (default audience). */
export async function lcApiToken(rest: KubeRest, ns: string, node: string, sa = 'lc'): Promise<string> {
  await rest
    .request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: sa } } })
    .catch((err: { status?: number }) => {
      if (err.status !== 409) throw err;
    });
  let bound = {};
  if (sa === 'lc') {
    const pod = await rest.request<{ metadata: { name: string; uid: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/pods`,
      {
        body: {
          metadata: { generateName: `lc-${node}-` },
          spec: { serviceAccountName: sa, nodeName: node, containers: [{ name: 'lc', image: 'fedmesh' }] },
        },
      },
    );
    bound = { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid } };
  }
  const tr = await rest.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    { body: { spec: { expirationSeconds: 3600, ...bound } } },
  );
  return tr.status.token;
}

export interface RunningFallback {
  fallback: Fallback;
  store: LcStore;
  tokenFile: string;
  stop(): Promise<void>;
}

/** A fallback for `node` (memory store), its token in a file; stopped after `t`. */
export function runFallback(
  t: TestContext,
  init: Partial<FallbackInit> & { node: string; url: string },
  token: string,
): RunningFallback {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-fallback-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token);
  const store = createMemoryStore();
  const fallback = createFallback(
    { backoffMinMs: 50, backoffMaxMs: 500, tokenFile, ...init },
    { store, log: testLogger() },
  );
  const ac = new AbortController();
  const running = fallback.run(ac.signal);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    ac.abort();
    await running;
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  return { fallback, store, tokenFile, stop };
}

export const names = (s: LcStore) => s.listObjects().map((o) => `${o.kind}/${o.name}`);
