/**
 * `node resolve.ts KUBECONFIG`: prints the kubeconfig's current context as ClusterAccess JSON and
 * exits. Run as a child process by access.ts so that client-node (which handles every kubeconfig
 * form: files, inline data, exec and auth plugins) is never loaded by a long-running process.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { accessFromKubeConfig } from './access.ts';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: resolve.ts KUBECONFIG\n');
  process.exit(2);
}
try {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  process.stdout.write(JSON.stringify(await accessFromKubeConfig(kc)));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
