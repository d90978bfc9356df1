/**
 * README's "run fedmesh" line: `fedmesh` with no component and no cluster configured starts the
 * local sandbox, says so, brings up a real control plane with GM replicas, and on Ctrl-C removes
 * every process it started.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

test('fedmesh alone, with no cluster configured, runs the sandbox until Ctrl-C and leaves nothing', async (t) => {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  delete env.KUBERNETES_SERVICE_HOST;
  const child = spawn(process.execPath, [CLI], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => child.kill('SIGKILL'));
  const deadline = performance.now() + 120_000;
  while (!out.includes('Press Ctrl-C') && performance.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(err, /no cluster configured .*starting the local sandbox/);
  assert.match(out, /fedmesh sandbox is up/, `stdout: ${out}\nstderr: ${err}`);
  const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(pids.length, 3, 'three GM replicas, as deploy/gm.yaml runs');
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  for (const pid of pids) {
    const alive = existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
    assert.equal(alive, false, `GM replica ${pid} stopped`);
  }
  assert.match(out, /fedmesh sandbox stopped/);
});
