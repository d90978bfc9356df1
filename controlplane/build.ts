import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedGoBuild, cacheRoot, sourceHash } from '../common/gobuild.ts';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

const GO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'go');
const BINARIES = ['kube-apiserver', 'etcd', 'leader-elect', 'kube-controller-manager', 'kube-scheduler'] as const;

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  /** A client-go leader election participant (tools/leaderelection, LeaseLock), for interop tests. */
  leaderElect: string;
  /** kube-controller-manager, for tests that opt into real controllers (garbage collector, namespace). */
  kubeControllerManager: string;
  /** kube-scheduler (default profile), for tests that check where real scheduling puts pods. */
  kubeScheduler: string;
  dir: string;
}

/** `~/.cache/fedmesh/envtest/<k8s>-etcd<etcd>-<src>/`, or under $FEDMESH_CACHE_DIR. */
export function cacheDir(): string {
  return join(cacheRoot(), 'envtest', `${KUBERNETES_VERSION}-etcd${ETCD_VERSION}-${sourceHash(GO_DIR)}`);
}

function present(dir: string): Binaries | undefined {
  if (!BINARIES.every((b) => existsSync(join(dir, b)))) return undefined;
  return {
    kubeApiserver: join(dir, 'kube-apiserver'),
    etcd: join(dir, 'etcd'),
    leaderElect: join(dir, 'leader-elect'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubeScheduler: join(dir, 'kube-scheduler'),
    dir,
  };
}

/**
 * Returns the cached kube-apiserver and etcd, building them from the Go module proxy when
 * missing. Concurrent callers (parallel test files) serialise on a lock directory; the
 * binaries appear in the cache only once complete (build to a temp dir, then rename).
 */
export async function ensureBinaries(opts: { log?: (msg: string) => void } = {}): Promise<Binaries> {
  const dir = cacheDir();
  const hit = present(dir);
  if (hit) return hit;
  const version = KUBERNETES_VERSION.replace(/^v/, '').split('.');
  const ldflags = [
    '-s',
    '-w',
    `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${version[0]}`,
    `-X k8s.io/component-base/version.gitMinor=${version[1]}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ].join(' ');
  const started = Date.now();
  let built = false;
  await cachedGoBuild({
    dir,
    ready: (d) => present(d) !== undefined,
    goDir: GO_DIR,
    args: (tmp) => {
      built = true;
      opts.log?.(
        `building kube-apiserver ${KUBERNETES_VERSION} and etcd ${ETCD_VERSION} into ${dir} (cold: a few minutes)`,
      );
      return ['-trimpath', '-ldflags', ldflags, '-o', `${tmp}/`, './cmd/...'];
    },
    what: 'the envtest binaries',
    // A cold build takes minutes on 2 cores; a lock older than this is a crashed builder's.
    lockStaleMs: 20 * 60_000,
  });
  if (built) opts.log?.(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return present(dir) as Binaries;
}

if (import.meta.main) {
  const b = await ensureBinaries({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${b.dir}\n`);
}
