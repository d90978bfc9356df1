/**
 * `npm run soak -- [--minutes N] [--seed S] [--sample SECONDS]`: the loopback cluster under steady
 * churn — one LC restarted or killed and started again, the relay restarted, Datasets changed,
 * deleted and created again, reports and tunnel streams throughout — while the long-lived processes
 * (GM replicas, the other LC, the service and edge mesh agents) are sampled: RSS, open handles
 * (file descriptors) and event-loop lag (their /metrics). Prints per process the first and last
 * thirds' RSS and the drift between them, then the checker's verdict on the run's history.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from '../../common/async.ts';
import { until } from '../hub/helpers.ts';
import { checkHistory, formatVerdict } from './checker.ts';
import { startChaosCluster } from './cluster.ts';
import { readHistory } from './history.ts';
import { runSchedule } from './injector.ts';
import { generateSchedule } from './schedule.ts';
import { runProbes } from './tunnel.ts';
import { runWorkload, seedObjects, settle } from './workload.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seed: { type: 'string' },
    sample: { type: 'string' },
    keep: { type: 'boolean' },
  },
  strict: true,
});
const minutes = Number(values.minutes ?? 1);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error('usage: npm run soak -- [--minutes N] [--seed S] [--sample SECONDS] [--keep]');
  process.exit(2);
}
const durationMs = minutes * 60_000;
const sampleMs = values.sample ? Number(values.sample) * 1000 : Math.max(5000, durationMs / 60);
const STABLE = ['gm-a', 'gm-b', 'edge-1', 'mesh-svc', 'mesh-edge'];

interface Sample {
  at: number;
  rssKiB: number;
  fds: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

function procFigures(pid: number): { rssKiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
}

async function lag(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  const get = (name: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(' ')[1] ?? Number.NaN,
    );
  return { p99: get('nodejs_eventloop_lag_p99_seconds') * 1000, max: get('nodejs_eventloop_lag_max_seconds') * 1000 };
}

const dir = mkdtempSync(join(tmpdir(), `fedmesh-soak-${seed}-`));
console.log(`soak: seed ${seed}, ${minutes} min, a sample every ${sampleMs / 1000} s, in ${dir}`);
const c = await startChaosCluster({ dir });
const samples = new Map<string, Sample[]>(STABLE.map((n) => [n, []]));
let verdictOk = false;
try {
  await seedObjects(c);
  await until('the LCs hold their objects', 60_000, async () => {
    for (const lc of c.lcs) {
      const r = await fetch(`${lc.url}/fedmesh/objects`).catch(() => undefined);
      if (!r?.ok || ((await r.json()) as { items: unknown[] }).items.length < 3) return false;
    }
    return true;
  });
  const churn = c.targets
    .filter((t) => t.name === 'edge-2' || t.name === 'mesh-relay')
    .map((t) => ({ ...t, faults: t.name === 'edge-2' ? (['restart', 'kill9'] as const) : (['restart'] as const) }))
    .map((t) => ({ ...t, faults: [...t.faults] }));
  const schedule = generateSchedule({ seed, durationMs, targets: churn, holdMs: [500, 2000], gapMs: [3000, 8000] });
  const stop = new AbortController();
  const t0 = performance.now();
  const sampler = (async () => {
    while (!stop.signal.aborted) {
      for (const name of STABLE) {
        const p = c.processes.get(name);
        if (!p) continue;
        try {
          const { rssKiB, fds } = procFigures(p.proc().pid);
          const l = await lag(p.metricsUrl());
          samples.get(name)?.push({ at: performance.now() - t0, rssKiB, fds, lagP99Ms: l.p99, lagMaxMs: l.max });
        } catch {
          // a sample missed (the process was busy past the timeout): the next one counts
        }
      }
      await sleep(sampleMs, stop.signal).catch(() => {});
    }
  })();
  const load = runWorkload(c, seed, stop.signal, 300);
  const probes = runProbes({ ...c.tunnel, parallel: 1 }, c.history, stop.signal);
  const churned = await runSchedule(schedule, c.actors, c.history, AbortSignal.timeout(durationMs * 2 + 60_000));
  const left = durationMs - (performance.now() - t0);
  if (left > 0) await sleep(left);
  stop.abort();
  const [workload, tunnel] = await Promise.all([load, probes, sampler]);
  const settled = await settle(c, 90_000);
  const verdict = checkHistory(readHistory(c.historyFile));
  verdictOk = verdict.ok;

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const rows: Record<string, unknown>[] = [];
  console.log(
    '\nprocess      samples  RSS first⅓ MiB  RSS last⅓ MiB  drift   fds first→last  lag p99 max ms  lag max ms',
  );
  for (const [name, s] of samples) {
    const third = Math.max(1, Math.floor(s.length / 3));
    // The first sample is start-up (JIT, caches warming): drift is measured from the second on.
    const first = s.slice(1, 1 + third);
    const last = s.slice(-third);
    const a = mean(first.map((x) => x.rssKiB)) / 1024;
    const b = mean(last.map((x) => x.rssKiB)) / 1024;
    const drift = a > 0 ? ((b - a) / a) * 100 : Number.NaN;
    const lagP99 = Math.max(...s.map((x) => x.lagP99Ms));
    const lagMax = Math.max(...s.map((x) => x.lagMaxMs));
    const fds = `${s[1]?.fds ?? s[0]?.fds}→${s.at(-1)?.fds}`;
    rows.push({
      name,
      samples: s.length,
      rssFirstMiB: +a.toFixed(1),
      rssLastMiB: +b.toFixed(1),
      driftPct: +drift.toFixed(1),
      fds,
      lagP99Ms: +lagP99.toFixed(1),
      lagMaxMs: +lagMax.toFixed(1),
    });
    console.log(
      `${name.padEnd(12)} ${String(s.length).padStart(7)}  ${a.toFixed(1).padStart(14)}  ${b.toFixed(1).padStart(13)}  ${`${drift.toFixed(1)} %`.padStart(6)}  ${fds.padStart(14)}  ${lagP99.toFixed(1).padStart(14)}  ${lagMax.toFixed(1).padStart(10)}`,
    );
  }
  console.log(
    `\nchurn: ${JSON.stringify(churned.applied)}${churned.errors.length ? ` errors: ${churned.errors.join('; ')}` : ''}`,
  );
  console.log(`workload: ${JSON.stringify(workload)}`);
  console.log(`tunnel probes: ${JSON.stringify(tunnel)}`);
  console.log(`settled: ${settled === undefined ? 'NOT within 90 s' : `${Math.round(settled)} ms`}`);
  console.log(formatVerdict(verdict));
  const summary = {
    soak: minutes,
    seed,
    sampleMs,
    processes: rows,
    churn: churned.applied,
    workload,
    tunnel,
    verdict: verdict.ok,
  };
  writeFileSync(
    join(dir, 'soak.json'),
    `${JSON.stringify({ ...summary, samples: Object.fromEntries(samples) }, null, 2)}\n`,
  );
  console.log(JSON.stringify(summary));
} finally {
  await c.stop();
  if (verdictOk && !values.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept: ${dir}`);
}
process.exit(verdictOk ? 0 : 1);
