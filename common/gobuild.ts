/**
 * Binaries built from the Go module proxy once and kept in fedmesh's cache (the local control plane,
 * the S3 test server): keyed by a hash of their Go sources, built into a temporary directory that is
 * renamed into place only when complete, with a lock directory so parallel callers (test files)
 * build once and the others wait.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PrerequisiteError } from './errors.ts';

const run = promisify(execFile);

/** `~/.cache/fedmesh` (or `$XDG_CACHE_HOME/fedmesh`), or `$FEDMESH_CACHE_DIR`. */
export function cacheRoot(): string {
  return process.env.FEDMESH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fedmesh');
}

/** Hash of every file below `dir` (names and contents), so an edit to go.mod or a main.go gets a fresh cache entry. */
export function sourceHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(name).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 12);
}

export interface GoBuildInit {
  /** The cache directory the build fills (made only once complete). */
  dir: string;
  /** Whether `dir` already holds everything. */
  ready(dir: string): boolean;
  /** The Go module to build in. */
  goDir: string;
  /** `go build` arguments, given the temporary output directory. */
  args(tmp: string): string[];
  /** What is built, for errors: `the envtest binaries`. */
  what: string;
  /** A lock older than this is a crashed builder's (ms). */
  lockStaleMs: number;
}

/** Builds into `init.dir` unless it is ready; parallel callers wait for the one that builds. */
export async function cachedGoBuild(init: GoBuildInit): Promise<void> {
  const { dir } = init;
  if (init.ready(dir)) return;
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const st = statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > init.lockStaleMs) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
      if (init.ready(dir)) return;
    }
  }
  try {
    if (init.ready(dir)) return;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      await run('go', ['build', ...init.args(tmp)], {
        cwd: init.goDir,
        env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -buildvcs=false' },
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const e = err as { code?: string; stderr?: string };
      if (e.code === 'ENOENT') throw new PrerequisiteError(`building ${init.what} needs Go on PATH (1.24 or newer)`);
      throw new PrerequisiteError(`building ${init.what} failed:\n${e.stderr ?? ''}`, { cause: err });
    }
    renameSync(tmp, dir);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
