import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../common/process/index.ts';
import { retryOnPortTaken, waitFor } from './startup.ts';

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
