import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpYaml, KubeConfig } from '@kubernetes/client-node';
import { ConfigError, DeadlineError, PrerequisiteError } from '../common/errors.ts';
import { type ManagedProcess, onExit, spawnManaged } from '../common/process/index.ts';
import { type Binaries, ensureBinaries } from './build.ts';
import { createCA, createServiceAccountKeys, issueCert } from './certs.ts';

export interface ControlPlaneInit {
  /** Working directory for certs, etcd data, logs and the kubeconfig. Default: a fresh temp dir, removed on stop. */
  dir?: string;
  /** Address kube-apiserver listens on and advertises. Default `127.0.0.1`. */
  bindAddress?: string;
  /** Extra IPs for the serving certificate (e.g. a bridge address that netlab hosts use). */
  extraIPs?: string[];
  /**
   * Leave the processes running when this process exits (`fedmesh envtest start`). Default false:
   * processes die with the test process, even on SIGKILL.
   */
  detached?: boolean;
  /** Progress messages (build, start). */
  log?: (msg: string) => void;
  /**
   * Also run kube-controller-manager with only these controllers (its `--controllers` list), e.g.
   * `['garbagecollector']` so that deleting an owner deletes its dependents, or `'namespace'` so
   * that deleted namespaces are emptied and removed. Default none: no controllers run. Not with `detached`.
   */
  controllers?: string[];
  /**
   * Runs once the API server is ready and before kube-controller-manager starts: install CRDs here
   * whose objects the garbage collector must handle at once (it discovers new resources only every 30 s).
   */
  beforeControllers?: (kc: KubeConfig) => Promise<void>;
  /** ClusterIP range of Services. Default `10.96.0.0/24` (254 Services); benchmarks with more need more. */
  serviceClusterIPRange?: string;
}

/** What `fedmesh envtest stop` needs to find a detached control plane again. */
export interface ControlPlaneState {
  etcdPid: number;
  apiserverPid: number;
  /** Only when `controllers` were requested. */
  controllerManagerPid?: number;
  server: string;
  kubeconfig: string;
}

export interface ControlPlane {
  readonly dir: string;
  /** `https://127.0.0.1:PORT` */
  readonly server: string;
  /** Admin kubeconfig (user `fedmesh-admin` in group `system:masters`). */
  readonly kubeconfigPath: string;
  /** A fresh client configuration for the admin identity. */
  kubeConfig(): KubeConfig;
  /** Writes a kubeconfig for a certificate identity (`user` in `groups`) with no implicit rights. */
  userKubeconfig(user: string, groups?: string[]): Promise<string>;
  /** A KubeConfig authenticating with a bearer token (ServiceAccount tokens, node tokens). */
  tokenKubeConfig(token: string): KubeConfig;
  /** Stops kube-apiserver only (etcd keeps the data), to test API outages. SIGKILL for an abrupt loss. */
  stopApiServer(signal?: NodeJS.Signals): Promise<void>;
  /** Starts kube-apiserver again on the same address after stopApiServer(). */
  startApiServer(): Promise<void>;
  readonly state: ControlPlaneState;
  /** Stops every process; removes the directory if it was a temp dir. */
  stop(): Promise<void>;
}

/**
 * The kernel's ephemeral range, from which it picks the source ports of outgoing connections. A
 * port handed out by bind(0) comes from that same range, so a concurrent test's outgoing connection
 * can take it between our probe and the server's bind; ports below it are never taken that way.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number];
  } catch {
    // Not Linux, or no procfs: fall back to bind(0).
  }
  return [0, 0];
}

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

/**
 * A free TCP port on `host`: a random one below the kernel's ephemeral range (see ephemeralRange),
 * probed by binding it; bind(0) only when that range is too small.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [lo] = ephemeralRange();
  const base = 10_000;
  if (lo - base >= 1_000) {
    for (let i = 0; i < 50; i++) {
      const port = await tryListen(base + Math.floor(Math.random() * (lo - base)), host);
      if (port !== undefined) return port;
    }
  }
  const port = await tryListen(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

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
async function retryOnPortTaken<T>(logFile: string, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PrerequisiteError) || !portTaken(logFile)) throw err;
    }
  }
}

async function waitFor(
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

function httpsOk(
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

function kubeconfigYaml(server: string, caPath: string, user: Record<string, string>): string {
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

/** Starts a single-member etcd on free loopback ports and waits until it reports healthy. */
export async function startEtcd(init: {
  binary: string;
  dir: string;
  detached?: boolean;
}): Promise<{ proc: ManagedProcess; url: string }> {
  const logFile = join(init.dir, 'etcd.log');
  return retryOnPortTaken(logFile, async () => {
    const [port, peerPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const dataDir = join(init.dir, 'etcd-data');
    // A failed attempt may have left a member directory naming its peer URL.
    rmSync(dataDir, { recursive: true, force: true });
    const proc = spawnManaged({
      name: 'etcd',
      cmd: init.binary,
      args: [
        '--name=envtest',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=envtest=http://127.0.0.1:${peerPort}`,
        // Test data is disposable: skip fsync so 2 cores are not spent waiting for the disk.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logFile,
      detached: init.detached ?? false,
    });
    try {
      await waitFor(
        'etcd',
        30_000,
        proc,
        async () => {
          const res = await fetch(`${url}/health`);
          return res.ok && ((await res.json()) as { health?: string }).health === 'true';
        },
        logFile,
      );
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return { proc, url };
  });
}

/**
 * Starts kube-controller-manager with only `controllers`, authenticating with its own client
 * certificate (system:kube-controller-manager in system:masters: test infrastructure, all rights),
 * without leader election, serving /healthz on a free loopback port, and waits until it is healthy.
 */
async function startControllerManager(init: {
  binary: string;
  dir: string;
  server: string;
  controllers: string[];
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

/**
 * Starts etcd and kube-apiserver on free loopback ports, with generated serving certificates, an
 * admin client certificate, ServiceAccount signing keys and RBAC authorization, and waits for
 * `/readyz`. The same shape as controller-runtime's envtest, for TypeScript.
 */
export async function startControlPlane(init: ControlPlaneInit = {}): Promise<ControlPlane> {
  const bin: Binaries = await ensureBinaries({ log: init.log });
  const ownDir = init.dir === undefined;
  const dir = init.dir ?? mkdtempSync(join(tmpdir(), 'fedmesh-envtest-'));
  mkdirSync(dir, { recursive: true });
  const removeDir = ownDir ? onExit(() => rmSync(dir, { recursive: true, force: true })) : () => {};
  const host = init.bindAddress ?? '127.0.0.1';
  const detached = init.detached ?? false;
  if (detached && init.controllers?.length) {
    throw new ConfigError('controllers are only supported for control planes that die with this process');
  }

  await createCA(dir);
  const ips = [...new Set(['127.0.0.1', host, ...(init.extraIPs ?? [])])];
  const serving = await issueCert(
    dir,
    'apiserver',
    { cn: 'kube-apiserver' },
    { server: { ips, dns: ['localhost', 'kubernetes', 'kubernetes.default.svc'] } },
  );
  const admin = await issueCert(dir, 'admin', { cn: 'fedmesh-admin', orgs: ['system:masters'] }, { client: true });
  const sa = createServiceAccountKeys(dir);

  const { proc: etcd, url: etcdUrl } = await startEtcd({ binary: bin.etcd, dir, detached });
  const tls = { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(admin.cert), key: readFileSync(admin.key) };

  const apiLog = join(dir, 'kube-apiserver.log');
  let server = '';
  let apiserverArgs: string[] = [];
  function startApiserverProcess(): ManagedProcess {
    return spawnManaged({
      name: 'kube-apiserver',
      cmd: bin.kubeApiserver,
      args: apiserverArgs,
      logFile: apiLog,
      detached,
    });
  }
  const waitApi = (proc: ManagedProcess) =>
    waitFor('kube-apiserver', 120_000, proc, () => httpsOk(`${server}/readyz`, tls), apiLog);
  let api: ManagedProcess;
  try {
    api = await retryOnPortTaken(apiLog, async () => {
      const apiPort = await freePort(host);
      server = `https://${host}:${apiPort}`;
      apiserverArgs = [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--client-ca-file=${join(dir, 'ca.crt')}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${sa.pub}`,
        `--service-account-signing-key-file=${sa.key}`,
        `--api-audiences=fedmesh,${server}`,
        `--service-cluster-ip-range=${init.serviceClusterIPRange ?? '10.96.0.0/24'}`,
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
      ];
      const proc = startApiserverProcess();
      try {
        await waitApi(proc);
      } catch (err) {
        await proc.stop('SIGKILL');
        throw err;
      }
      return proc;
    });
  } catch (err) {
    await etcd.stop('SIGKILL');
    throw err;
  }

  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    kubeconfigYaml(server, join(dir, 'ca.crt'), {
      'client-certificate-data': readFileSync(admin.cert).toString('base64'),
      'client-key-data': readFileSync(admin.key).toString('base64'),
    }),
    { mode: 0o600 },
  );
  let kcm: ManagedProcess | undefined;
  if (init.controllers?.length) {
    try {
      if (init.beforeControllers) {
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        await init.beforeControllers(kc);
      }
      kcm = await startControllerManager({
        binary: bin.kubeControllerManager,
        dir,
        server,
        controllers: init.controllers,
        saKey: sa.key,
      });
    } catch (err) {
      await Promise.all([api.stop('SIGKILL'), etcd.stop('SIGKILL')]);
      throw err;
    }
  }
  const state = (): ControlPlaneState => ({
    etcdPid: etcd.pid,
    apiserverPid: api.pid,
    ...(kcm ? { controllerManagerPid: kcm.pid } : {}),
    server,
    kubeconfig: kubeconfigPath,
  });
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state(), null, 2));

  return {
    dir,
    server,
    kubeconfigPath,
    get state() {
      return state();
    },
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    async userKubeconfig(user, groups = []) {
      const safe = user.replace(/[^a-zA-Z0-9_.-]/g, '_');
      const c = await issueCert(dir, `user-${safe}`, { cn: user, orgs: groups }, { client: true });
      const path = join(dir, `kubeconfig-${safe}`);
      writeFileSync(
        path,
        kubeconfigYaml(server, join(dir, 'ca.crt'), {
          'client-certificate-data': readFileSync(c.cert).toString('base64'),
          'client-key-data': readFileSync(c.key).toString('base64'),
        }),
        { mode: 0o600 },
      );
      return path;
    },
    tokenKubeConfig(token) {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigYaml(server, join(dir, 'ca.crt'), { token }));
      return kc;
    },
    async stopApiServer(signal = 'SIGTERM') {
      await api.stop(signal, 10_000);
    },
    async startApiServer() {
      if (api.running()) return;
      api = startApiserverProcess();
      await waitApi(api);
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state(), null, 2));
    },
    async stop() {
      await kcm?.stop('SIGTERM', 10_000);
      await api.stop('SIGTERM', 10_000);
      await etcd.stop('SIGTERM', 10_000);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      removeDir();
    },
  };
}
