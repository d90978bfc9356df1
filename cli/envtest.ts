import type { CommandSpec } from '../common/cli/command.ts';
import { ConfigError } from '../common/errors.ts';
import { ensureBinaries, startDetached, stopDetached } from '../controlplane/index.ts';

const dirFlag = {
  dir: { description: 'working directory of the control plane (certs, data, logs, kubeconfig)', value: 'DIR' },
};

function requireDir(flags: Record<string, unknown>, path: string): string {
  const dir = flags.dir as string | undefined;
  if (!dir) throw new ConfigError(`${path}: --dir is required`);
  return dir;
}

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

export const envtestCommand: CommandSpec = {
  name: 'envtest',
  summary: 'a real kube-apiserver + etcd for tests and experiments',
  subcommands: [
    {
      name: 'start',
      summary: 'start a control plane in the background and print its kubeconfig path',
      flags: dirFlag,
      details: 'Example:\n  fedmesh envtest start --dir /tmp/cp && kubectl --kubeconfig /tmp/cp/kubeconfig get ns',
      async run({ flags, path }) {
        const kubeconfig = await startDetached(requireDir(flags, path), log);
        process.stdout.write(`${kubeconfig}\n`);
        return 0;
      },
    },
    {
      name: 'stop',
      summary: 'stop the control plane started in DIR; no process is left',
      flags: dirFlag,
      async run({ flags, path }) {
        const dir = requireDir(flags, path);
        if (!(await stopDetached(dir))) log(`no control plane recorded in ${dir}; nothing to stop`);
        return 0;
      },
    },
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
