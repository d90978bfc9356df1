import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { command } from '../common/cli/command.ts';
import { freePort } from '../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../common/process/index.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { installCrds } from '../crds/index.ts';
import { GM_NODE_OPTIONS } from '../gm/hub/constants.ts';

const CLI = join(import.meta.dirname, 'fedmesh.ts');

/**
 * The local sandbox: a whole fedmesh control plane on one machine, no cluster required — a real
 * kube-apiserver + etcd, the Sedna CRDs, and GM replicas electing a leader. It grows with the
 * components.
 */
export const sandboxCommand = command({
  name: 'sandbox',
  summary: 'run a local fedmesh sandbox (control plane, Sedna CRDs, GM replicas) until Ctrl-C',
  flags: {
    dir: { description: 'keep the sandbox state here instead of a temp dir', value: 'DIR' },
    replicas: {
      description: 'GM replicas to run',
      value: 'N',
      default: '3',
      parse: (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 9) throw new Error('expected an integer 0..9');
        return n;
      },
    },
  },
  async run({ flags }) {
    const ac = new AbortController();
    // Every later Ctrl-C is absorbed too: a second one must not kill us halfway through cleanup.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => ac.abort());
    const say = (m: string) => process.stderr.write(`${m}\n`);
    const plane = await startControlPlane({ dir: flags.dir, log: say });
    const gms: Array<{ id: string; http: number; ws: number; proc: ManagedProcess }> = [];
    try {
      const kc = plane.kubeConfig();
      await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'sedna' } } });
      await installCrds(kc);
      for (let i = 1; i <= flags.replicas; i++) {
        const id = `gm-${i}`;
        const [http, ws] = [await freePort(), await freePort()];
        const proc = spawnManaged({
          name: id,
          cmd: process.execPath,
          // As deploy/gm.yaml runs them.
          args: [
            ...GM_NODE_OPTIONS.split(' '),
            CLI,
            'gm',
            '--kubeconfig',
            plane.kubeconfigPath,
            '--id',
            id,
            '--lease-namespace',
            'sedna',
            '--lease-duration',
            '2s',
            '--renew-deadline',
            '1500ms',
            '--retry-period',
            '500ms',
            '--http-listen',
            `127.0.0.1:${http}`,
            '--ws-listen',
            `127.0.0.1:${ws}`,
          ],
          logFile: join(plane.dir, `${id}.log`),
        });
        gms.push({ id, http, ws, proc });
      }
      const lines = [
        `fedmesh sandbox is up: kube-apiserver at ${plane.server}, state in ${plane.dir}`,
        '',
        `  export KUBECONFIG=${plane.kubeconfigPath}`,
        '  kubectl get crd | grep sedna.io                 # the six Sedna CRDs',
        '  kubectl -n sedna get lease fedmesh-gm -w        # which GM replica leads',
        '  kubectl -n sedna get events                     # leadership changes',
        '',
        'GM replicas (HTTP: /readyz is 200 only on the leader, /metrics; logs in the state dir):',
        ...gms.map(
          (g) =>
            `  ${g.id}  pid ${g.proc.pid}  http://127.0.0.1:${g.http}/readyz  ws://127.0.0.1:${g.ws}/  (kill -9 ${g.proc.pid} to see a failover)`,
        ),
        '',
        'Press Ctrl-C to stop; every process and the sandbox state are removed.',
        '',
      ];
      process.stdout.write(lines.join('\n'));
      await new Promise<void>((resolve) => {
        if (ac.signal.aborted) resolve();
        ac.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await Promise.all(gms.map((g) => g.proc.stop('SIGTERM', 15_000)));
      await plane.stop();
    }
    process.stdout.write('fedmesh sandbox stopped\n');
    return 0;
  },
});
