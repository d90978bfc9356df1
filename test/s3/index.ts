/**
 * A real S3-compatible server for tests (gofakes3, in memory, path-style buckets). It accepts any
 * credentials (it checks no signature), so the LC's SigV4 is checked against AWS's published
 * example in lc/managers/s3.test.ts; here the GET path, streaming and errors are real.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineError } from '../../common/errors.ts';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { ensureS3Server } from './build.ts';

export interface S3Server {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Creates the bucket if needed and writes the object (unsigned: the server takes any request). */
  put(bucket: string, key: string, body: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Server(): Promise<S3Server> {
  const bin = await ensureS3Server();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-s3-'));
  const proc = spawnManaged({
    name: 's3-server',
    cmd: bin,
    args: ['-listen', `127.0.0.1:${port}`],
    logFile: join(dir, 's3.log'),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await fetch(`${endpoint}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || !proc.running()) {
      await proc.stop('SIGKILL');
      throw new DeadlineError(`the S3 test server did not answer on ${endpoint}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const buckets = new Set<string>();
  return {
    endpoint,
    async put(bucket, key, body) {
      if (!buckets.has(bucket)) {
        const r = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
        if (!r.ok) throw new Error(`create bucket ${bucket}: HTTP ${r.status}`);
        buckets.add(bucket);
      }
      const r = await fetch(`${endpoint}/${bucket}/${key}`, { method: 'PUT', body });
      if (!r.ok) throw new Error(`put ${bucket}/${key}: HTTP ${r.status}`);
    },
    async stop() {
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
