/**
 * A stock go-libp2p v0.51 circuit-v2 relay (test/mesh/gorelay/go: TCP, noise, yamux, PSK v1, no
 * per-circuit limit), built from the Go module proxy once and cached like the control plane's
 * binaries: `~/.cache/fedmesh/gorelay/<source hash>/gorelay`. Test infrastructure only: it shows
 * that fedmesh nodes need nothing of fedmesh on their relay.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachedGoBuild, cacheRoot, sourceHash } from '../../../common/gobuild.ts';

const GO_DIR = join(import.meta.dirname, 'go');

/** The relay binary's path, built when missing; parallel callers wait for the one that builds. */
export async function ensureGoRelay(): Promise<string> {
  const dir = join(cacheRoot(), 'gorelay', sourceHash(GO_DIR));
  const bin = join(dir, 'gorelay');
  await cachedGoBuild({
    dir,
    ready: () => existsSync(bin),
    goDir: GO_DIR,
    args: (tmp) => ['-trimpath', '-ldflags', '-s -w', '-o', join(tmp, 'gorelay'), '.'],
    what: 'the go-libp2p test relay',
    // go-libp2p builds in about a minute cold on two cores.
    lockStaleMs: 10 * 60_000,
  });
  return bin;
}
