/** Start-up helpers shared by etcd, kube-apiserver and kube-controller-manager. */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dumpYaml } from '@kubernetes/client-node';
import { DeadlineError, PrerequisiteError } from '../common/errors.ts';
import type { ManagedProcess } from '../common/process/index.ts';

/** The last lines of a log file, for an error message; empty when it cannot be read. */
function logTail(path: string, lines = 8): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A start-up failure that a retry on other ports cures. */
function portTaken(logFile: string): boolean {
  return /address already in use/i.test(logTail(logFile, 40));
}

/**
 * Runs `start` again (it picks fresh ports) when it failed because a port was taken between picking
 * and binding it: two test files start control planes concurrently.
 */
export async function retryOnPortTaken<T>(logFile: string, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PrerequisiteError) || !portTaken(logFile)) throw err;
    }
  }
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  logFile?: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) {
      const tail = logFile ? logTail(logFile) : '';
      throw new PrerequisiteError(
        `${what} exited during start-up${logFile ? ` (log ${logFile})` : ''}${tail ? `:\n${tail}` : ''}`,
      );
    }
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DeadlineError(`${what} not ready after ${timeoutMs} ms`);
}

export function httpsOk(
  url: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer } | { rejectUnauthorized: false },
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function kubeconfigYaml(server: string, caPath: string, user: Record<string, string>): string {
  const ca = readFileSync(caPath).toString('base64');
  return dumpYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'envtest', cluster: { server, 'certificate-authority-data': ca } }],
    users: [{ name: 'user', user }],
    contexts: [{ name: 'envtest', context: { cluster: 'envtest', user: 'user', namespace: 'default' } }],
    'current-context': 'envtest',
  });
}
