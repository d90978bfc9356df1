import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, 'fedmesh.ts');

async function fedmesh(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // A cluster "configured" (the file need not be read): `fedmesh` alone then prints help.
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, KUBECONFIG: CLI } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const cases: Array<{ name: string; args: string[]; code: number; out?: RegExp; err?: RegExp }> = [
  { name: 'no arguments with a cluster configured prints help', args: [], code: 0, out: /Usage: fedmesh <command>/ },
  { name: '--help on the root', args: ['--help'], code: 0, out: /envtest/ },
  { name: '--help on a group', args: ['envtest', '--help'], code: 0, out: /start/ },
  { name: '--help on a leaf', args: ['envtest', 'start', '--help'], code: 0, out: /--dir DIR/ },
  { name: 'unknown command', args: ['nope'], code: 2, err: /unknown command "nope"/ },
  { name: 'unknown flag', args: ['envtest', 'start', '--dri', 'x'], code: 2, err: /--dri/ },
  { name: 'missing required flag', args: ['envtest', 'start'], code: 2, err: /--dir is required/ },
];
for (const c of cases) {
  test(`fedmesh CLI: ${c.name}`, async () => {
    const r = await fedmesh(...c.args);
    assert.equal(r.code, c.code, r.stderr);
    if (c.out) assert.match(r.stdout, c.out);
    if (c.err) assert.match(r.stderr, c.err);
  });
}
