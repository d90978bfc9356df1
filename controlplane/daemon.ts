import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../common/errors.ts';
import { type ControlPlaneState, startControlPlane } from './controlplane.ts';

function alive(pid: number, binary: string): boolean {
  try {
    // Guard against pid reuse: only signal a process that is still the binary we started.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(binary);
  } catch {
    return false;
  }
}

/** Waits until /proc no longer lists `pid`: an exited child is a zombie until init reaps it. */
async function gone(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

function readState(dir: string): ControlPlaneState | undefined {
  const p = join(dir, 'state.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as ControlPlaneState) : undefined;
}

/** Starts a detached control plane in `dir`; returns the kubeconfig path. */
export async function startDetached(dirArg: string, log: (m: string) => void): Promise<string> {
  const dir = resolve(dirArg);
  const old = readState(dir);
  if (old && (alive(old.etcdPid, 'etcd') || alive(old.apiserverPid, 'kube-apiserver'))) {
    throw new ConfigError(
      `a control plane is already running in ${dir}; run 'fedmesh envtest stop --dir ${dirArg}' first`,
    );
  }
  // A fresh cluster each start: old certificates and etcd data are not reused.
  for (const f of ['etcd-data', 'state.json']) rmSync(join(dir, f), { recursive: true, force: true });
  const plane = await startControlPlane({ dir, detached: true, log });
  return plane.kubeconfigPath;
}

/** Stops the control plane recorded in `dir/state.json`; waits until no process is left. */
export async function stopDetached(dirArg: string): Promise<boolean> {
  const dir = resolve(dirArg);
  const st = readState(dir);
  if (!st) return false;
  const procs: Array<[number, string]> = [
    [st.apiserverPid, 'kube-apiserver'],
    [st.etcdPid, 'etcd'],
  ];
  for (const [pid, bin] of procs) {
    if (!alive(pid, bin)) {
      await gone(pid);
      continue;
    }
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(pid, bin) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid, bin)) process.kill(pid, 'SIGKILL');
    while (alive(pid, bin)) await new Promise((r) => setTimeout(r, 50));
    await gone(pid);
  }
  rmSync(join(dir, 'state.json'), { force: true });
  rmSync(join(dir, 'etcd-data'), { recursive: true, force: true });
  return true;
}
