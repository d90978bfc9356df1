import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'cli', 'fedmesh.ts');

async function gm(...args: string[]) {
  try {
    await run(process.execPath, [CLI, 'gm', ...args], { timeout: 20_000, env: { ...process.env, KUBECONFIG: '' } });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

const bad: Array<{ name: string; args: string[]; stderr: RegExp }> = [
  {
    name: 'renew deadline ≥ lease duration',
    args: ['--lease-duration', '2s', '--renew-deadline', '2s'],
    stderr: /lease-duration .* must be greater than renew-deadline/,
  },
  { name: 'unknown flag', args: ['--lease-durration', '2s'], stderr: /--lease-durration/ },
  { name: 'duration without unit', args: ['--retry-period', '2'], stderr: /invalid value "2" for --retry-period/ },
  { name: 'bad readyz mode', args: ['--readyz', 'always'], stderr: /--readyz/ },
  { name: 'bad listen address', args: ['--http-listen', 'nowhere'], stderr: /--http-listen/ },
  { name: 'no cluster configured', args: [], stderr: /no cluster configured/ },
];
for (const c of bad) {
  test(`fedmesh gm refuses: ${c.name}`, async () => {
    const r = await gm(...c.args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, c.stderr);
  });
}

test('fedmesh gm with an unreachable API server exits 1 with a clear error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-gm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  // Port 1 on loopback: nothing listens there.
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const r = await gm('--kubeconfig', kubeconfig, '--http-listen', '127.0.0.1:0');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot reach the API server at https:\/\/127\.0\.0\.1:1/);
});
