/**
 * One chaos run: the loopback cluster, the seeded schedule, the workload and the tunnel probes at
 * the same time, then quiet, the expectations and the checker's verdict. Used by the CI test
 * (chaos.test.ts) and `npm run chaos` (main.ts).
 */
import { until } from '../hub/helpers.ts';
import { checkHistory, formatVerdict, type Verdict } from './checker.ts';
import { startChaosCluster } from './cluster.ts';
import { readHistory } from './history.ts';
import { type RunStats, runSchedule } from './injector.ts';
import { generateSchedule } from './schedule.ts';
import { type ProbeStats, runProbes } from './tunnel.ts';
import { runWorkload, seedObjects, settle, type WorkloadStats } from './workload.ts';

export interface ChaosRunInit {
  seed: number;
  durationMs: number;
  dir: string;
  /** Time allowed after the last heal for every LC to converge (ms). Default 90 s. */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  seed: number;
  durationMs: number;
  /** Wall time the schedule took (faults wait for restarts, so it runs past durationMs). */
  elapsedMs: number;
  faults: number;
  /** Faults on the Lease holder of the moment (kill -9, SIGSTOP, SIGTERM). */
  leaderFaults: number;
  faultsByKind: Record<string, number>;
  faultErrors: string[];
  workload: WorkloadStats;
  tunnel: ProbeStats;
  /** ms from the last heal until every LC converged; null when it did not within settleMs. */
  settleMs: number | null;
  verdict: Verdict;
  historyFile: string;
  historyEvents: number;
}

export async function runChaos(init: ChaosRunInit): Promise<ChaosSummary> {
  const log = init.log ?? (() => {});
  log(`chaos: seed ${init.seed}, ${Math.round(init.durationMs / 1000)} s of faults, in ${init.dir}`);
  const c = await startChaosCluster({ dir: init.dir });
  try {
    await seedObjects(c);
    // Start from a served state: every LC holds its Datasets before the first fault.
    await until('the LCs hold their objects', 60_000, async () => {
      for (const lc of c.lcs) {
        const r = await fetch(`${lc.url}/fedmesh/objects`).catch(() => undefined);
        const items = r?.ok ? ((await r.json()) as { items: unknown[] }).items : [];
        if (items.length < 3) return false;
      }
      return true;
    });
    const schedule = generateSchedule({ seed: init.seed, durationMs: init.durationMs, targets: c.targets });
    c.history('run.start', { seed: init.seed, durationMs: init.durationMs, faults: schedule.length });
    log(`chaos: ${schedule.length} faults scheduled; cluster up`);
    const stopLoad = new AbortController();
    const load = runWorkload(c, init.seed, stopLoad.signal);
    const probes = runProbes({ ...c.tunnel, parallel: 2 }, c.history, stopLoad.signal);
    let stats: RunStats;
    const t0 = performance.now();
    try {
      stats = await runSchedule(schedule, c.actors, c.history, AbortSignal.timeout(init.durationMs * 3 + 120_000));
    } finally {
      stopLoad.abort();
    }
    const elapsedMs = Math.round(performance.now() - t0);
    const [workload, tunnel] = await Promise.all([load, probes]);
    log(`chaos: faults done (${JSON.stringify(stats.applied)}), settling`);
    const settled = await settle(c, init.settleMs ?? 90_000);
    c.history('run.end', {});
    const events = readHistory(c.historyFile);
    const verdict = checkHistory(events);
    return {
      seed: init.seed,
      durationMs: init.durationMs,
      elapsedMs,
      leaderFaults: Object.entries(stats.applied)
        .filter(([k]) => k.startsWith('gm-leader '))
        .reduce((a, [, n]) => a + n, 0),
      faults: Object.values(stats.applied).reduce((a, b) => a + b, 0),
      faultsByKind: stats.applied,
      faultErrors: stats.errors,
      workload,
      tunnel,
      settleMs: settled === undefined ? null : Math.round(settled),
      verdict,
      historyFile: c.historyFile,
      historyEvents: events.length,
    };
  } finally {
    await c.stop();
  }
}

/** The text report of a run. */
export function formatSummary(s: ChaosSummary): string {
  return [
    `chaos run: seed ${s.seed}, ${Math.round(s.durationMs / 1000)} s of faults scheduled (${Math.round(s.elapsedMs / 1000)} s taken) → ${s.verdict.ok ? 'PASS' : 'FAIL'}`,
    `faults applied: ${s.faults} (on the leader: ${s.leaderFaults}) ${JSON.stringify(s.faultsByKind)}${s.faultErrors.length ? `; errors: ${s.faultErrors.join('; ')}` : ''}`,
    `workload: ${JSON.stringify(s.workload)}`,
    `tunnel probes: ${JSON.stringify(s.tunnel)}`,
    `settled after the last heal in: ${s.settleMs === null ? 'NOT within the limit' : `${s.settleMs} ms`}`,
    `history: ${s.historyEvents} events in ${s.historyFile}`,
    formatVerdict(s.verdict),
    `replay: npm run chaos -- --seed ${s.seed} --minutes ${+(s.durationMs / 60_000).toFixed(2)}`,
  ].join('\n');
}
