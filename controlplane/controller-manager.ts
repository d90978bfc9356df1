import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../common/process/index.ts';
import { issueCert } from './certs.ts';
import { httpsOk, kubeconfigYaml, retryOnPortTaken, waitFor } from './startup.ts';

/**
 * Starts kube-controller-manager with only `controllers`, authenticating with its own client
 * certificate (system:kube-controller-manager in system:masters: test infrastructure, all rights),
 * without leader election, serving /healthz on a free loopback port, and waits until it is healthy.
 */
export async function startControllerManager(init: {
  binary: string;
  dir: string;
  server: string;
  controllers: string[];
  /** Appended to the command line (later flags win). */
  extraArgs?: string[];
  saKey: string;
}): Promise<ManagedProcess> {
  const cert = await issueCert(
    init.dir,
    'kube-controller-manager',
    { cn: 'system:kube-controller-manager', orgs: ['system:masters'] },
    { client: true },
  );
  const kubeconfig = join(init.dir, 'kube-controller-manager.kubeconfig');
  writeFileSync(
    kubeconfig,
    kubeconfigYaml(init.server, join(init.dir, 'ca.crt'), {
      'client-certificate-data': readFileSync(cert.cert).toString('base64'),
      'client-key-data': readFileSync(cert.key).toString('base64'),
    }),
    { mode: 0o600 },
  );
  const logFile = join(init.dir, 'kube-controller-manager.log');
  return retryOnPortTaken(logFile, async () => {
    const port = await freePort();
    const proc = spawnManaged({
      name: 'kube-controller-manager',
      cmd: init.binary,
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        `--controllers=${init.controllers.join(',')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        `--service-account-private-key-file=${init.saKey}`,
        `--root-ca-file=${join(init.dir, 'ca.crt')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(init.dir, 'kube-controller-manager-certs')}`,
        '--profiling=false',
        '--v=1',
        ...(init.extraArgs ?? []),
      ],
      logFile,
    });
    try {
      // /healthz is always allowed anonymously; the serving certificate is self-signed.
      await waitFor(
        'kube-controller-manager',
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
