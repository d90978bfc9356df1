/**
 * Test helpers over a real kube-apiserver + etcd (the launcher is ../../controlplane/).
 *
 *   const env = useEnvtest();            // one control plane for this test file
 *   test('x', async (t) => {
 *     const ns = await env.namespace(t);  // fresh namespace, deleted after the test
 *     const api = env.kubeConfig().makeApiClient(CoordinationV1Api);
 *   });
 */
import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, startControlPlane } from '../../controlplane/index.ts';

// Tests that run servers beside the control plane need free ports too.
export { freePort } from '../../common/net/ports.ts';
export { type ControlPlane, type ControlPlaneInit, startControlPlane } from '../../controlplane/index.ts';

export interface Envtest {
  /** The running control plane (valid inside tests, after the file's `before` hook). */
  readonly plane: ControlPlane;
  kubeConfig(): KubeConfig;
  /** Creates a uniquely named namespace (with its `default` ServiceAccount) and deletes it after `t`. */
  namespace(t: TestContext, prefix?: string): Promise<string>;
}

/** Starts one control plane for the calling test file (before hook) and stops it afterwards. */
export function useEnvtest(init: Parameters<typeof startControlPlane>[0] = {}): Envtest {
  let plane: ControlPlane | undefined;
  // A cold build of kube-apiserver takes minutes; a warm start about ten seconds.
  before(
    async () => {
      plane = await startControlPlane(init);
    },
    { timeout: 20 * 60_000 },
  );
  after(async () => {
    await plane?.stop();
  });
  const get = (): ControlPlane => {
    if (!plane) throw new Error('the envtest control plane is not running (use inside tests)');
    return plane;
  };
  return {
    get plane() {
      return get();
    },
    kubeConfig: () => get().kubeConfig(),
    async namespace(t, prefix = 't') {
      const name = `${prefix}-${randomBytes(4).toString('hex')}`;
      const core = get().kubeConfig().makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name } } });
      // No kube-controller-manager runs, so nothing creates the default ServiceAccount for us.
      await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
      t.after(async () => {
        await core.deleteNamespace({ name }).catch(() => {});
      });
      return name;
    },
  };
}
