/**
 * Builds the S3-compatible test server (test/s3/go: gofakes3 v1.2.0 from the Go module proxy) once,
 * cached like the control plane's binaries: `~/.cache/fedmesh/s3-server/<source hash>/s3-server`.
 * It lives in test/ because only tests use it (the sandbox has no S3 datasets); its own go.mod keeps
 * its dependencies out of the control plane's module.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachedGoBuild, cacheRoot, sourceHash } from '../../common/gobuild.ts';

const GO_DIR = join(import.meta.dirname, 'go');

/** The server binary's path, built when missing; parallel callers wait for the one that builds. */
export async function ensureS3Server(): Promise<string> {
  const dir = join(cacheRoot(), 's3-server', sourceHash(GO_DIR));
  const bin = join(dir, 's3-server');
  await cachedGoBuild({
    dir,
    ready: () => existsSync(bin),
    goDir: GO_DIR,
    args: (tmp) => ['-trimpath', '-ldflags', '-s -w', '-o', join(tmp, 's3-server'), '.'],
    what: 'the S3 test server',
    // A build takes ~20 s cold; a lock older than this is a crashed builder's.
    lockStaleMs: 5 * 60_000,
  });
  return bin;
}
