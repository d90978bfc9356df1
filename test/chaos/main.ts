/**
 * `npm run chaos -- [--minutes N] [--seed S] [--dir DIR] [--keep]`: a long chaos run on the loopback
 * cluster with a text summary (and `<dir>/summary.json`); exit 1 when the checker refutes a
 * property. `npm run chaos -- --fuzz N`: the fast-check properties at N inputs each instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz.ts';
import { formatSummary, runChaos } from './run.ts';

const USAGE = 'usage: npm run chaos -- [--minutes N] [--seed S] [--dir DIR] [--keep] | --fuzz RUNS';

function positive(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    console.error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
      fuzz: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}

const fuzz = positive('fuzz', values.fuzz as string | undefined, true);
if (fuzz !== undefined) {
  const dir = (values.dir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'fedmesh-fuzz-'));
  const r = await runFuzz(fuzz, dir, console.log);
  console.log(
    `fuzz: ${r.ok ? 'PASS' : 'FAIL'} — ${r.properties} properties in ${r.files.length} files, ${r.inputs} inputs, ${r.seconds} s`,
  );
  console.log(
    JSON.stringify({
      fuzz: r.ok,
      files: r.files.length,
      properties: r.properties,
      inputs: r.inputs,
      seconds: r.seconds,
    }),
  );
  if (r.ok && !values.keep && values.dir === undefined) rmSync(dir, { recursive: true, force: true });
  process.exit(r.ok ? 0 : 1);
}

const minutes = positive('minutes', values.minutes as string | undefined, false) ?? 1;
const seed =
  values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : (positive('seed', values.seed as string, true) as number);
const dir = (values.dir as string | undefined) ?? mkdtempSync(join(tmpdir(), `fedmesh-chaos-${seed}-`));
const s = await runChaos({ seed, durationMs: minutes * 60_000, dir, log: console.log });
writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(s, null, 2)}\n`);
console.log(formatSummary(s));
if (s.verdict.ok && !values.keep && values.dir === undefined) rmSync(dir, { recursive: true, force: true });
else console.log(`kept: ${dir} (summary.json, history.jsonl, the logs)`);
process.exit(s.verdict.ok && s.settleMs !== null ? 0 : 1);
