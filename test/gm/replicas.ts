import { join } from 'node:path';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../../common/process/index.ts';
import { installCrds } from '../../crds/install.ts';
import type { ControlPlane } from '../envtest/index.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

export interface Replica {
  id: string;
  proc: ManagedProcess;
  port: number;
  /** The LC hub's WebSocket port (127.0.0.1). */
  wsPort: number;
  /** HTTP status of /readyz, or 0 when the replica does not answer. */
  readyz(): Promise<number>;
}

export interface ReplicaInit {
  id: string;
  namespace: string;
  leaseName?: string;
  leaseDuration?: string;
  renewDeadline?: string;
  retryPeriod?: string;
  readyz?: 'leader' | 'replica';
  probe?: string;
  pollOnly?: boolean;
  kubeconfig?: string;
  logFile?: string;
  /** Extra `fedmesh gm` flags (e.g. hub options). */
  args?: string[];
  /** Environment of the process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The hub's port (e.g. to restart a replica where its LCs expect it); default a free one. */
  wsPort?: number;
}

// Control planes (by server URL) that already have the Sedna CRDs.
const withCrds = new Map<string, Promise<void>>();

/**
 * Starts `fedmesh gm` as a real process against the control plane. Installs the Sedna CRDs first
 * (once per control plane): every replica's LC hub lists them, and is not ready without them.
 */
export async function startReplica(plane: ControlPlane, init: ReplicaInit): Promise<Replica> {
  let crds = withCrds.get(plane.server);
  if (!crds) {
    crds = installCrds(plane.kubeConfig());
    withCrds.set(plane.server, crds);
    crds.catch(() => withCrds.delete(plane.server));
  }
  await crds;
  const port = await freePort();
  const wsPort = init.wsPort ?? (await freePort());
  const args = [
    CLI,
    'gm',
    '--kubeconfig',
    init.kubeconfig ?? plane.kubeconfigPath,
    '--id',
    init.id,
    '--lease-namespace',
    init.namespace,
    '--lease-name',
    init.leaseName ?? 'gm',
    '--lease-duration',
    init.leaseDuration ?? '2s',
    '--renew-deadline',
    init.renewDeadline ?? '1500ms',
    '--retry-period',
    init.retryPeriod ?? '500ms',
    '--http-listen',
    `127.0.0.1:${port}`,
    '--readyz',
    init.readyz ?? 'leader',
    '--ws-listen',
    `127.0.0.1:${wsPort}`,
    ...(init.args ?? []),
  ];
  if (init.probe) args.push('--fencing-probe-interval', init.probe);
  if (init.pollOnly) args.push('--poll-only');
  const proc = spawnManaged({
    name: `gm ${init.id}`,
    cmd: process.execPath,
    args,
    env: init.env,
    logFile: init.logFile ?? join(plane.dir, `gm-${init.id}.log`),
  });
  const readyz = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
      return r.status;
    } catch {
      return 0;
    }
  };
  // Wait until the HTTP server answers (any status).
  const deadline = Date.now() + 30_000;
  while ((await readyz()) === 0) {
    if (!proc.running()) throw new Error(`replica ${init.id} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`replica ${init.id} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { id: init.id, proc, port, wsPort, readyz };
}

export interface Transition {
  /** performance.now() when the test saw the change. */
  at: number;
  holder: string;
  transitions: number;
}

/** Watches a Lease from the test's side and records every holder change with its arrival time. */
export async function watchHolder(plane: ControlPlane, namespace: string, name: string, signal: AbortSignal) {
  const rest: KubeRest = await createKubeRest(plane.kubeConfig());
  const seen: Transition[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    while (!signal.aborted) {
      try {
        for await (const ev of rest.watch<{ spec?: { holderIdentity?: string; leaseTransitions?: number } }>(
          `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
          { query: { fieldSelector: `metadata.name=${name}` }, signal },
        )) {
          const holder = ev.object.spec?.holderIdentity ?? '';
          if (seen.at(-1)?.holder !== holder) {
            seen.push({ at: performance.now(), holder, transitions: ev.object.spec?.leaseTransitions ?? 0 });
            for (const w of waiters) w();
          }
        }
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    rest.close();
  })();
  return {
    seen,
    current: () => seen.at(-1)?.holder ?? '',
    /** Resolves with the first holder (after `since`) that satisfies `pred`. */
    async until(pred: (holder: string) => boolean, timeoutMs: number, since = 0): Promise<Transition> {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const hit = seen.find((s) => s.at >= since && pred(s.holder));
        if (hit) return hit;
        if (performance.now() > deadline)
          throw new Error(`no matching holder within ${timeoutMs} ms; seen ${JSON.stringify(seen)}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 50);
          waiters.add(() => {
            clearTimeout(t);
            r();
          });
        });
        waiters.clear();
      }
    },
  };
}
