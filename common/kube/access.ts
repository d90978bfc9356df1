/**
 * How to reach one API server, as plain data: what every request needs (server URL, TLS material,
 * credentials) and nothing else. Long-running processes (the GM) hold this instead of a client-node
 * KubeConfig: client-node's generated API costs ~85 MiB of RSS per process, so a kubeconfig file is
 * resolved by a short-lived child process (resolve.ts), and in-cluster credentials are read natively.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../errors.ts';

export interface ClusterAccess {
  /** `https://host:port` of the API server. */
  server: string;
  /** PEM bundles. */
  ca?: string;
  cert?: string;
  key?: string;
  /** False only for `insecure-skip-tls-verify`. */
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Static headers (e.g. `Authorization: Bearer …` from a token or an exec plugin). */
  headers?: Record<string, string>;
  /** `user:password` (basic auth). */
  auth?: string;
  /**
   * A bearer token file that is re-read while the process runs: projected ServiceAccount tokens
   * are rotated by the kubelet. Takes precedence over an Authorization header.
   */
  tokenFile?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

/** Plain access data from a loaded client-node KubeConfig (for code that has one anyway: tests, tools). */
export async function accessFromKubeConfig(kc: KubeConfig): Promise<ClusterAccess> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError('kubeconfig has no current cluster');
  const o: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const pem = (v: unknown) => (v === undefined || v === null ? undefined : Buffer.from(v as string).toString('utf8'));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((o.headers ?? {}) as Record<string, unknown>)) {
    if (v !== undefined) headers[k] = String(v);
  }
  return {
    server: cluster.server,
    ca: pem(o.ca),
    cert: pem(o.cert),
    key: pem(o.key),
    rejectUnauthorized: o.rejectUnauthorized,
    servername: o.servername,
    headers,
    auth: o.auth ?? undefined,
  };
}

function isClusterAccess(x: KubeConfig | ClusterAccess): x is ClusterAccess {
  return typeof (x as ClusterAccess).server === 'string';
}

/** Accepts either shape; KubeConfigs are resolved through client-node (already loaded by the caller). */
export function toAccess(x: KubeConfig | ClusterAccess): Promise<ClusterAccess> {
  return isClusterAccess(x) ? Promise.resolve(x) : accessFromKubeConfig(x);
}

/** A pod's own access: the ServiceAccount token (re-read as it rotates) and the cluster CA. */
export function inClusterAccess(dir = SA_DIR): ClusterAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new ConfigError('not in a cluster: KUBERNETES_SERVICE_HOST is not set');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${dir}/ca.crt`, 'utf8'),
    tokenFile: `${dir}/token`,
  };
}

/**
 * A function giving the headers for the next request: the static ones plus a bearer token read from
 * `tokenFile` at most once a minute.
 */
export function headerSource(access: ClusterAccess, rereadMs = TOKEN_REREAD_MS): () => Record<string, string> {
  const fixed = { ...access.headers };
  const file = access.tokenFile;
  if (!file) return () => fixed;
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    const now = performance.now();
    if (now - readAt >= rereadMs) {
      try {
        token = readFileSync(file, 'utf8').trim();
        readAt = now;
      } catch {
        // Keep the last token: a rotation replaces the file atomically, a read never sees it torn.
      }
    }
    return token ? { ...fixed, authorization: `Bearer ${token}` } : fixed;
  };
}

const RESOLVER = new URL('./resolve.ts', import.meta.url).pathname;

/** Resolves a kubeconfig file in a child process (see the module comment) into plain access data. */
export function accessFromFile(path: string): ClusterAccess {
  if (!existsSync(path)) throw new ConfigError(`kubeconfig ${path} does not exist`);
  let out: string;
  try {
    out = execFileSync(process.execPath, [RESOLVER, path], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new ConfigError(`cannot load the kubeconfig ${path}: ${stderr || (err as Error).message}`, { cause: err });
  }
  return JSON.parse(out) as ClusterAccess;
}

/** Where `loadClusterAccess()` (no `--kubeconfig`) would find a cluster, or undefined when nothing is configured. */
export function configuredCluster(): string | undefined {
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(`${SA_DIR}/token`)) return 'in-cluster';
  if (process.env.KUBECONFIG) return process.env.KUBECONFIG.split(':')[0];
  return undefined;
}

/**
 * Finds the cluster: `--kubeconfig` if given, else in-cluster (a pod's ServiceAccount), else
 * `$KUBECONFIG`. Throws ConfigError naming what was tried when nothing is configured.
 */
export function loadClusterAccess(path?: string): { access: ClusterAccess; source: string } {
  if (path) return { access: accessFromFile(path), source: path };
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(`${SA_DIR}/token`)) {
    return { access: inClusterAccess(), source: 'in-cluster' };
  }
  if (process.env.KUBECONFIG) {
    const first = process.env.KUBECONFIG.split(':')[0] as string;
    if (!existsSync(first)) throw new ConfigError(`$KUBECONFIG names ${first}, which does not exist`);
    return { access: accessFromFile(first), source: first };
  }
  throw new ConfigError('no cluster configured: pass --kubeconfig, run in a pod, or set $KUBECONFIG');
}
