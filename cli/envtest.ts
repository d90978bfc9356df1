import { type CommandSpec, command } from '../common/cli/command.ts';
import { ensureBinaries, startDetached, stopDetached } from '../controlplane/index.ts';

const dirFlag = {
  dir: {
    description: 'working directory of the control plane (certs, data, logs, kubeconfig)',
    value: 'DIR',
    required: true,
  },
} as const;

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

export const envtestCommand: CommandSpec = {
  name: 'envtest',
  summary: 'a real kube-apiserver + etcd for tests and experiments',
  subcommands: [
    command({
      name: 'start',
      summary: 'start a control plane in the background and print its kubeconfig path',
      flags: dirFlag,
      details: 'Example:\n  fedmesh envtest start --dir /tmp/cp && kubectl --kubeconfig /tmp/cp/kubeconfig get ns',
      async run({ flags }) {
        const kubeconfig = await startDetached(flags.dir, log);
        process.stdout.write(`${kubeconfig}\n`);
        return 0;
      },
    }),
    command({
      name: 'stop',
      summary: 'stop the control plane started in DIR; no process is left',
      flags: dirFlag,
      async run({ flags }) {
        if (!(await stopDetached(flags.dir))) log(`no control plane recorded in ${flags.dir}; nothing to stop`);
        return 0;
      },
    }),
    {
      name: 'build',
      summary: 'build (or find in the cache) the kube-apiserver and etcd binaries; print their directory',
      flags: {},
      async run() {
        const b = await ensureBinaries({ log });
        process.stdout.write(`${b.dir}\n`);
        return 0;
      },
    },
  ],
};
