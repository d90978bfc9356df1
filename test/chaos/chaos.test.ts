/**
 * The CI-sized chaos run (issue 21): the loopback cluster under a seeded schedule of faults — GM
 * replicas, LCs, mesh agents (the relay included) and the API server killed with -9, stopped with
 * SIGTERM, paused with SIGSTOP, restarted — while Datasets change, LCs report and streams cross the
 * tunnel. The checker must prove all four properties on the history. Fixed seeds: a failure is
 * replayed with `npm run chaos -- --seed S --minutes M`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatSummary, runChaos } from './run.ts';

const SEEDS = [1, 20261207];
const FAULT_MS = 40_000;

for (const seed of SEEDS) {
  test(`chaos (CI-sized): seed ${seed}, ${FAULT_MS / 1000} s of faults; no overlapping guarded writes, every accepted report lands once and never older, every LC converges with no older version after a newer, every tunnel byte in order or a loud failure`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `fedmesh-chaos-${seed}-`));
    const s = await runChaos({ seed, durationMs: FAULT_MS, dir });
    const report = formatSummary(s);
    for (const line of report.split('\n')) t.diagnostic(line);
    assert.ok(s.verdict.ok, report);
    assert.deepEqual(s.faultErrors, [], report);
    assert.ok(s.settleMs !== null, report);
    assert.ok(s.faults >= 5, report);
    const figure = (p: string, k: string) => s.verdict.properties.find((x) => x.name === p)?.figures[k] ?? 0;
    // The run exercised each property (not vacuously true).
    assert.ok(figure('fencing', 'passes') > 50, report);
    assert.ok(figure('reports', 'accepted') > 20, report);
    assert.ok(figure('convergence', 'objects') >= 6, report);
    assert.ok(figure('tunnel', 'streams') > 5, report);
    rmSync(dir, { recursive: true, force: true }); // kept when the run failed
  });
}
