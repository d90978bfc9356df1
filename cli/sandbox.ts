import type { CommandSpec } from '../common/cli/command.ts';
import { startControlPlane } from '../test/envtest/controlplane.ts';

/**
 * The local sandbox: everything fedmesh needs on one machine, no cluster required. It grows with
 * the components; today it is the control plane that the GM and LC will run against.
 */
export const sandboxCommand: CommandSpec = {
  name: 'sandbox',
  summary: 'run a local fedmesh sandbox (a real control plane on loopback) until Ctrl-C',
  flags: {
    dir: { description: 'keep the sandbox state here instead of a temp dir', value: 'DIR' },
  },
  async run({ flags }) {
    const ac = new AbortController();
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort());
    const plane = await startControlPlane({
      dir: flags.dir as string | undefined,
      log: (m) => process.stderr.write(`${m}\n`),
    });
    process.stdout.write(
      [
        `fedmesh sandbox is up: kube-apiserver at ${plane.server}`,
        '',
        `  export KUBECONFIG=${plane.kubeconfigPath}`,
        '  kubectl get ns',
        '  kubectl get leases -A',
        '',
        'Press Ctrl-C to stop; every process and the sandbox state are removed.',
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
    await plane.stop();
    process.stdout.write('fedmesh sandbox stopped\n');
    return 0;
  },
};
