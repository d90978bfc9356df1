import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type ControlPlane, ensureBinaries } from '../../controlplane/index.ts';

export interface ClientGoParticipant {
  id: string;
  /** Events printed by the participant: started / stopped / new-leader, with arrival time. */
  events: Array<{ event: string; id: string; at: number }>;
  /** True between an OnStartedLeading and the matching OnStoppedLeading. */
  leading(): boolean;
  signal(sig: NodeJS.Signals): void;
  exited: Promise<unknown>;
  /** SIGKILLs if still running; resolves once gone. */
  stop(): Promise<void>;
}

/**
 * Starts a real client-go v0.34 `tools/leaderelection` participant (LeaseLock, ReleaseOnCancel) on
 * Lease `namespace/name`, with client-go's own timing flags; it dies with this process.
 */
export async function startClientGo(
  plane: ControlPlane,
  init: {
    namespace: string;
    name?: string;
    id: string;
    leaseDuration?: string;
    renewDeadline?: string;
    retryPeriod?: string;
  },
): Promise<ClientGoParticipant> {
  const bin = await ensureBinaries();
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'SIGKILL',
      '--',
      bin.leaderElect,
      `--kubeconfig=${plane.kubeconfigPath}`,
      `--namespace=${init.namespace}`,
      `--name=${init.name ?? 'gm'}`,
      `--id=${init.id}`,
      `--lease-duration=${init.leaseDuration ?? '2s'}`,
      `--renew-deadline=${init.renewDeadline ?? '1500ms'}`,
      `--retry-period=${init.retryPeriod ?? '500ms'}`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const events: ClientGoParticipant['events'] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    const e = JSON.parse(l) as { event: string; id: string };
    events.push({ ...e, at: performance.now() });
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    id: init.id,
    events,
    leading: () =>
      events.filter((e) => e.event === 'started').length > events.filter((e) => e.event === 'stopped').length,
    signal: (s) => {
      child.kill(s);
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
