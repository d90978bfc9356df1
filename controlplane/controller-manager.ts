import { join } from 'node:path';
import type { ManagedProcess } from '../common/process/index.ts';
import { startKubeComponent } from './component.ts';

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
  return startKubeComponent({
    name: 'kube-controller-manager',
    cn: 'system:kube-controller-manager',
    binary: init.binary,
    dir: init.dir,
    server: init.server,
    args: () => [
      `--controllers=${init.controllers.join(',')}`,
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${init.saKey}`,
      `--root-ca-file=${join(init.dir, 'ca.crt')}`,
      ...(init.extraArgs ?? []),
    ],
  });
}

/**
 * Starts kube-scheduler with its default profile (the same certificate scheme, no leader election):
 * pods without a nodeName get one from the real scheduler, which honours taints, unschedulable and
 * node readiness as in any cluster.
 */
export async function startScheduler(init: {
  binary: string;
  dir: string;
  server: string;
  /** Appended to the command line. */
  extraArgs?: string[];
}): Promise<ManagedProcess> {
  return startKubeComponent({
    name: 'kube-scheduler',
    cn: 'system:kube-scheduler',
    binary: init.binary,
    dir: init.dir,
    server: init.server,
    args: () => [...(init.extraArgs ?? [])],
  });
}
