/**
 * Builds the S3-compatible test server (test/s3/go: gofakes3 v1.2.0 from the Go module proxy) once,
 * cached like the control plane's binaries: `~/.cache/fedmesh/s3-server/<source hash>/s3-server`.
 * It lives in test/ because only tests use it (the sandbox has no S3 datasets); its own go.mod keeps
 * its dependencies out of the control plane's module.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrerequisiteError } from '../../common/errors.ts';

const run = promisify(execFile);
const GO_DIR = join(import.meta.dirname, 'go');
/** A build takes ~20 s cold; a lock older than this is a crashed builder's. */
const LOCK_STALE_MS = 5 * 60_000;

function cacheDir(): string {
  const h = createHash('sha256');
  for (const name of readdirSync(GO_DIR).sort()) h.update(name).update(readFileSync(join(GO_DIR, name)));
  const root =
    process.env.FEDMESH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fedmesh');
  return join(root, 's3-server', h.digest('hex').slice(0, 12));
}

/** The server binary's path, built when missing; parallel callers wait on a lock directory. */
export async function ensureS3Server(): Promise<string> {
  const dir = cacheDir();
  const bin = join(dir, 's3-server');
  if (existsSync(bin)) return bin;
  mkdirSync(join(dir, '..'), { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const st = statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
      if (existsSync(bin)) return bin;
    }
  }
  try {
    if (existsSync(bin)) return bin;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(tmp, 's3-server'), '.'], {
        cwd: GO_DIR,
        env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -buildvcs=false' },
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const e = err as { code?: string; stderr?: string };
      if (e.code === 'ENOENT') throw new PrerequisiteError('the S3 test server build needs Go on PATH');
      throw new PrerequisiteError(`building the S3 test server failed:\n${e.stderr ?? ''}`, { cause: err });
    }
    renameSync(tmp, dir);
    return bin;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
