import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../common/process/index.ts';
import { issueCert } from './certs.ts';
import { httpsOk, kubeconfigYaml, retryOnPortTaken, waitFor } from './startup.ts';

/**
 * Starts one control plane component (kube-controller-manager, kube-scheduler) authenticating
 * with its own client certificate (`cn`, in system:masters: test infrastructure, all rights),
 * serving /healthz on a free loopback port, and waits until it is healthy.
 */
export async function startKubeComponent(init: {
  name: string;
  cn: string;
  binary: string;
  dir: string;
  server: string;
  /** The component's own flags, given its kubeconfig path. */
  args: (kubeconfig: string) => string[];
}): Promise<ManagedProcess> {
  const cert = await issueCert(init.dir, init.name, { cn: init.cn, orgs: ['system:masters'] }, { client: true });
  const kubeconfig = join(init.dir, `${init.name}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    kubeconfigYaml(init.server, join(init.dir, 'ca.crt'), {
      'client-certificate-data': readFileSync(cert.cert).toString('base64'),
      'client-key-data': readFileSync(cert.key).toString('base64'),
    }),
    { mode: 0o600 },
  );
  const logFile = join(init.dir, `${init.name}.log`);
  return retryOnPortTaken(logFile, async () => {
    const port = await freePort();
    const proc = spawnManaged({
      name: init.name,
      cmd: init.binary,
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(init.dir, `${init.name}-certs`)}`,
        '--profiling=false',
        '--v=1',
        ...init.args(kubeconfig),
      ],
      logFile,
    });
    try {
      // /healthz is always allowed anonymously; the serving certificate is self-signed.
      await waitFor(
        init.name,
        60_000,
        proc,
        () => httpsOk(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false }),
        logFile,
      );
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return proc;
  });
}
