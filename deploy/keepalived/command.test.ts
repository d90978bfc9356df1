import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

async function render(opts: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'fmka-cli-'));
  try {
    const file = join(dir, 'opts.yaml');
    writeFileSync(file, typeof opts === 'string' ? opts : JSON.stringify(opts));
    const r = await run(process.execPath, [CLI, 'keepalived', 'render', '--config', file]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const good = {
  routerId: 'gm1',
  interface: 'eth0',
  virtualRouterId: 50,
  priority: 100,
  virtualIps: ['198.18.0.50/24'],
  readiness: { kind: 'script', url: 'http://127.0.0.1:8080/readyz' },
};

test('fedmesh keepalived render prints keepalived.conf for valid options', async () => {
  const r = await render(good);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /virtual_router_id 50/);
  assert.match(r.stdout, /198\.18\.0\.50\/24 dev eth0/);
});

test('fedmesh keepalived render refuses bad options with a clear error and prints nothing', async () => {
  for (const bad of [{ ...good, priority: 300 }, 'not: [valid', { ...good, interface: 'a very long interface' }]) {
    const r = await render(bad);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: /);
  }
});
