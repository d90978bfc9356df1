/**
 * The fuzz entry of `npm run chaos -- --fuzz N`: every test file using fast-check (the decoders and
 * state machines: ws frames of both dialects, tunnel frames, DNS, keepalived config, LC store
 * hostility...) run with each property at N inputs (fuzz/register.ts), files two at a time.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const FOLDERS = ['common', 'gm', 'lc', 'mesh', 'crds', 'deploy'];

/** Unit test files that import fast-check. */
export function fuzzFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts') && readFileSync(p, 'utf8').includes("from 'fast-check'")) out.push(p);
    }
  };
  for (const f of FOLDERS) walk(join(ROOT, f));
  return out.sort();
}

export interface FuzzResult {
  files: number;
  properties: number;
  inputs: number;
  ok: boolean;
  seconds: number;
  failures: string;
}

export async function runFuzz(runs: number, log: (line: string) => void = () => {}): Promise<FuzzResult> {
  const files = fuzzFiles();
  const countFile = join(tmpdir(), `fedmesh-fuzz-${process.pid}.count`);
  rmSync(countFile, { force: true });
  log(
    `fuzz: ${files.length} files, every property at ${runs} inputs: ${files.map((f) => relative(ROOT, f)).join(' ')}`,
  );
  const t0 = performance.now();
  const register = join(import.meta.dirname, 'fuzz', 'register.ts');
  const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=3600000', ...files], {
    cwd: ROOT,
    env: {
      ...process.env,
      FEDMESH_FUZZ_RUNS: String(runs),
      FEDMESH_FUZZ_COUNT: countFile,
      NODE_OPTIONS: `--import=${register}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  let counts: number[] = [];
  try {
    counts = readFileSync(countFile, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    // no property finished
  }
  rmSync(countFile, { force: true });
  const failures = out
    .split('\n')
    .filter((l) => /^\s*✖|^not ok/.test(l))
    .join('\n');
  return {
    files: files.length,
    properties: counts.length,
    inputs: counts.reduce((a, b) => a + b, 0),
    ok: code === 0,
    seconds: Math.round((performance.now() - t0) / 1000),
    failures,
  };
}
