/**
 * `fedmesh mesh` as a process: PSK generation, /readyz, /metrics, /status, and a clean exit on
 * SIGTERM; the identity survives the restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { until } from './harness.ts';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/fedmesh.ts');

test('fedmesh mesh: health, metrics and status endpoints; SIGTERM exits 0; the identity is kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const psk = join(dir, 'psk');
  const gen = spawnManaged({ name: 'gen-psk', cmd: process.execPath, args: [CLI, 'mesh', '--generate-psk', psk] });
  assert.equal(await gen.exited, 0);
  assert.equal(statSync(psk).mode & 0o777, 0o600);

  const [port, http] = [await freePort(), await freePort()];
  const logFile = join(dir, 'node.log');
  const start = () =>
    spawnManaged({
      name: 'mesh',
      cmd: process.execPath,
      args: [
        CLI,
        'mesh',
        '--node',
        'solo',
        '--state-dir',
        join(dir, 'state'),
        '--psk-file',
        psk,
        '--listen',
        `127.0.0.1:${port}`,
        '--http-listen',
        `127.0.0.1:${http}`,
        '--no-mdns',
      ],
      logFile,
    });
  const peerOf = async (n: number) =>
    until(
      'the node to start',
      () => {
        const started = readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"mesh node started"'));
        return started.length >= n ? (JSON.parse(started[n - 1] as string).peer as string) : undefined;
      },
      20_000,
    );

  let proc = start();
  t.after(() => proc.stop('SIGKILL'));
  const first = await peerOf(1);
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${http}${path}`);
    return { code: r.status, body: await r.text() };
  };
  assert.equal(
    await until('readyz', async () => ((await get('/readyz')).code === 200 ? true : undefined), 5_000),
    true,
  );
  assert.match((await get('/metrics')).body, /^fedmesh_mesh_peers 0$/m);
  const status = JSON.parse((await get('/status')).body) as { name: string; peerId: string; relay: boolean };
  assert.deepEqual(
    { name: status.name, peerId: status.peerId, relay: status.relay },
    { name: 'solo', peerId: first, relay: false },
  );

  proc.signal('SIGTERM');
  assert.equal(await proc.exited, 0);
  assert.match(readFileSync(logFile, 'utf8'), /"mesh node stopped"/);

  proc = start();
  assert.equal(await peerOf(2), first, 'same identity after a restart');
  proc.signal('SIGTERM');
  assert.equal(await proc.exited, 0);
});
