/**
 * The fuzz entry of `npm run chaos -- --fuzz N`: every test file using fast-check (the decoders and
 * state machines: ws frames of both dialects, tunnel frames, DNS, keepalived config, LC store
 * hostility...) run with each property at N inputs (fuzz/register.ts), one file at a time.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnManaged } from '../../common/process/index.ts';

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

export interface FuzzFileResult {
  file: string;
  ok: boolean;
  properties: number;
  inputs: number;
  seconds: number;
}

export interface FuzzResult {
  files: FuzzFileResult[];
  properties: number;
  inputs: number;
  ok: boolean;
  seconds: number;
}

/** One test file with every property at `runs` inputs; its output goes to `logFile`. */
async function fuzzFile(file: string, runs: number, logFile: string): Promise<FuzzFileResult> {
  const countFile = join(tmpdir(), `fedmesh-fuzz-${process.pid}.count`);
  rmSync(countFile, { force: true });
  const t0 = performance.now();
  const register = join(import.meta.dirname, 'fuzz', 'register.ts');
  // Managed: killed with this process (a long fuzz run stopped with ^C leaves nothing behind).
  const child = spawnManaged({
    name: `fuzz ${relative(ROOT, file)}`,
    cmd: process.execPath,
    args: ['--test', '--test-timeout=86400000', file],
    cwd: ROOT,
    env: {
      ...process.env,
      FEDMESH_FUZZ_RUNS: String(runs),
      FEDMESH_FUZZ_COUNT: countFile,
      NODE_OPTIONS: `--import=${register}`,
    },
    logFile,
  });
  const code = await child.exited;
  let counts: number[] = [];
  try {
    counts = readFileSync(countFile, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    // no property finished
  }
  rmSync(countFile, { force: true });
  return {
    file: relative(ROOT, file),
    ok: code === 0,
    properties: counts.length,
    inputs: counts.reduce((a, b) => a + b, 0),
    seconds: Math.round((performance.now() - t0) / 1000),
  };
}

/** Every file in turn; a line per file as it finishes; failures' output kept in `<dir>/<file>.log`. */
export async function runFuzz(runs: number, dir: string, log: (line: string) => void = () => {}): Promise<FuzzResult> {
  const t0 = performance.now();
  const files: FuzzFileResult[] = [];
  log(`fuzz: ${fuzzFiles().length} files, every property at ${runs} inputs; logs in ${dir}`);
  for (const f of fuzzFiles()) {
    const logFile = join(dir, `${relative(ROOT, f).replaceAll('/', '_')}.log`);
    const r = await fuzzFile(f, runs, logFile);
    files.push(r);
    log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.file}: ${r.properties} properties, ${r.inputs} inputs, ${r.seconds} s`);
  }
  return {
    files,
    properties: files.reduce((a, r) => a + r.properties, 0),
    inputs: files.reduce((a, r) => a + r.inputs, 0),
    ok: files.every((r) => r.ok),
    seconds: Math.round((performance.now() - t0) / 1000),
  };
}
