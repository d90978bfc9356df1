import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PrerequisiteError } from '../common/errors.ts';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

const run = promisify(execFile);
const GO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'go');
const BINARIES = ['kube-apiserver', 'etcd', 'leader-elect', 'kube-controller-manager'] as const;

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  /** A client-go leader election participant (tools/leaderelection, LeaseLock), for interop tests. */
  leaderElect: string;
  /** kube-controller-manager, for tests that opt into real controllers (garbage collector, namespace). */
  kubeControllerManager: string;
  dir: string;
}

/** Hash of the Go sources, so an edit to go.mod or a main.go gets a fresh cache entry. */
function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(name).update(readFileSync(p));
    }
  };
  walk(GO_DIR);
  return h.digest('hex').slice(0, 12);
}

/** `~/.cache/fedmesh/envtest/<k8s>-etcd<etcd>-<src>/`, or under $FEDMESH_CACHE_DIR. */
export function cacheDir(): string {
  const root =
    process.env.FEDMESH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fedmesh');
  return join(root, 'envtest', `${KUBERNETES_VERSION}-etcd${ETCD_VERSION}-${sourceHash()}`);
}

function present(dir: string): Binaries | undefined {
  if (!BINARIES.every((b) => existsSync(join(dir, b)))) return undefined;
  return {
    kubeApiserver: join(dir, 'kube-apiserver'),
    etcd: join(dir, 'etcd'),
    leaderElect: join(dir, 'leader-elect'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
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
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process builds; a lock older than the deadline is a crashed builder's.
      if (Date.now() > deadline || Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 20 * 60_000) {
        rmSync(lock, { recursive: true, force: true });
      }
      await new Promise((r) => setTimeout(r, 1000));
      const done = present(dir);
      if (done) return done;
    }
  }
  try {
    const done = present(dir);
    if (done) return done;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const version = KUBERNETES_VERSION.replace(/^v/, '').split('.');
    const ldflags = [
      '-s',
      '-w',
      `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
      `-X k8s.io/component-base/version.gitMajor=${version[0]}`,
      `-X k8s.io/component-base/version.gitMinor=${version[1]}`,
      '-X k8s.io/component-base/version.gitTreeState=clean',
    ].join(' ');
    opts.log?.(
      `building kube-apiserver ${KUBERNETES_VERSION} and etcd ${ETCD_VERSION} into ${dir} (cold: a few minutes)`,
    );
    const started = Date.now();
    try {
      await run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', `${tmp}/`, './cmd/...'], {
        cwd: GO_DIR,
        env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -buildvcs=false' },
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const e = err as { code?: string; stderr?: string };
      if (e.code === 'ENOENT') throw new PrerequisiteError('the envtest build needs Go on PATH (go 1.24 or newer)');
      throw new PrerequisiteError(`building the envtest binaries failed:\n${e.stderr ?? ''}`, { cause: err });
    }
    renameSync(tmp, dir);
    opts.log?.(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return present(dir) as Binaries;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const b = await ensureBinaries({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${b.dir}\n`);
}
