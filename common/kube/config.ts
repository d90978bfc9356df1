import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../errors.ts';

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Finds the cluster: `--kubeconfig` if given, else in-cluster (a pod's ServiceAccount), else
 * `$KUBECONFIG`. Throws ConfigError naming what was tried when nothing is configured.
 */
export function loadKubeConfig(path?: string): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  try {
    if (path) {
      if (!existsSync(path)) throw new ConfigError(`kubeconfig ${path} does not exist`);
      kc.loadFromFile(path);
      return { kc, source: path };
    }
    if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SA_TOKEN)) {
      kc.loadFromCluster();
      return { kc, source: 'in-cluster' };
    }
    if (process.env.KUBECONFIG) {
      const first = process.env.KUBECONFIG.split(':')[0] as string;
      if (!existsSync(first)) throw new ConfigError(`$KUBECONFIG names ${first}, which does not exist`);
      kc.loadFromFile(first);
      return { kc, source: first };
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot load the kubeconfig: ${(err as Error).message}`, { cause: err });
  }
  throw new ConfigError('no cluster configured: pass --kubeconfig, run in a pod, or set $KUBECONFIG');
}
