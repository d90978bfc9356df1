import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

function processOf(pid: number): string {
  return existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
}

test('fedmesh envtest start/stop: a detached control plane that kubectl can use, then nothing left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-cli-envtest-'));
  t.after(async () => {
    await run(process.execPath, [CLI, 'envtest', 'stop', '--dir', dir]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  const start = await run(process.execPath, [CLI, 'envtest', 'start', '--dir', dir]);
  const lines = start.stdout.trim().split('\n');
  assert.equal(lines.at(-1), join(dir, 'kubeconfig'));

  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  const ns = await kc.makeApiClient(CoreV1Api).listNamespace();
  assert.ok(ns.items.some((n) => n.metadata?.name === 'kube-system'));
  const kubectl = await run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'ns', '-o', 'name']);
  assert.match(kubectl.stdout, /namespace\/default/);

  // A second start on a running directory is refused and changes nothing.
  await assert.rejects(run(process.execPath, [CLI, 'envtest', 'start', '--dir', dir]), (err: { code: number }) => {
    assert.equal(err.code, 2);
    return true;
  });

  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { etcdPid: number; apiserverPid: number };
  await run(process.execPath, [CLI, 'envtest', 'stop', '--dir', dir]);
  assert.equal(processOf(state.etcdPid), '');
  assert.equal(processOf(state.apiserverPid), '');
  assert.equal(existsSync(join(dir, 'state.json')), false);
});
