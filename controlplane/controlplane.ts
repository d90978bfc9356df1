import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../common/errors.ts';
import { freePort } from '../common/net/ports.ts';
import { type ManagedProcess, onExit, spawnManaged } from '../common/process/index.ts';
import { type Binaries, ensureBinaries } from './build.ts';
import { createCA, createServiceAccountKeys, issueCert } from './certs.ts';
import { startControllerManager, startScheduler } from './controller-manager.ts';
import { startEtcd } from './etcd.ts';
import { httpsOk, kubeconfigYaml, retryOnPortTaken, waitFor } from './startup.ts';

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
   * More kube-controller-manager flags, e.g. the node lifecycle controller's short grace periods
   * (`--node-monitor-grace-period=4s`). Default none.
   */
  controllerArgs?: string[];
  /**
   * Also run kube-scheduler (default profile), so pods without a nodeName are placed by the real
   * scheduler. Default false. Not with `detached`.
   */
  scheduler?: boolean;
  /**
   * Runs once the API server is ready and before kube-controller-manager starts: install CRDs here
   * whose objects the garbage collector must handle at once (it discovers new resources only every 30 s).
   */
  beforeControllers?: (kc: KubeConfig) => Promise<void>;
  /** More kube-apiserver flags (appended), e.g. `--enable-aggregator-routing=true`. Default none. */
  apiserverArgs?: string[];
  /** ClusterIP range of Services. Default `10.96.0.0/24` (254 Services); benchmarks with more need more. */
  serviceClusterIPRange?: string;
}

/** What `fedmesh envtest stop` needs to find a detached control plane again. */
export interface ControlPlaneState {
  etcdPid: number;
  apiserverPid: number;
  /** Only when `controllers` were requested. */
  controllerManagerPid?: number;
  /** Only when `scheduler` was requested. */
  schedulerPid?: number;
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
  if (detached && (init.controllers?.length || init.scheduler)) {
    throw new ConfigError(
      'controllers and the scheduler are only supported for control planes that die with this process',
    );
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
        ...(init.apiserverArgs ?? []),
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
        extraArgs: init.controllerArgs,
        saKey: sa.key,
      });
    } catch (err) {
      await Promise.all([api.stop('SIGKILL'), etcd.stop('SIGKILL')]);
      throw err;
    }
  }
  let scheduler: ManagedProcess | undefined;
  if (init.scheduler) {
    try {
      scheduler = await startScheduler({ binary: bin.kubeScheduler, dir, server });
    } catch (err) {
      await Promise.all([kcm?.stop('SIGKILL'), api.stop('SIGKILL'), etcd.stop('SIGKILL')]);
      throw err;
    }
  }
  const state = (): ControlPlaneState => ({
    etcdPid: etcd.pid,
    apiserverPid: api.pid,
    ...(kcm ? { controllerManagerPid: kcm.pid } : {}),
    ...(scheduler ? { schedulerPid: scheduler.pid } : {}),
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
      await scheduler?.stop('SIGTERM', 10_000);
      await kcm?.stop('SIGTERM', 10_000);
      await api.stop('SIGTERM', 10_000);
      await etcd.stop('SIGTERM', 10_000);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      removeDir();
    },
  };
}
