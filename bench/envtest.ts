/**
 * envtest start-up: time from nothing to a ready kube-apiserver (certificates, etcd, API server
 * /readyz), against a baseline of etcd alone reaching health in the same run.
 *   npm run bench -- envtest [ROUNDS]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries, startControlPlane, startEtcd } from '../controlplane/index.ts';
import { quantile, round, since } from './stats.ts';

export async function run(args: string[]): Promise<Record<string, number>> {
  const rounds = Number(args[0] ?? 5);
  const bin = await ensureBinaries({ log: (m) => process.stderr.write(`${m}\n`) });
  const full: number[] = [];
  const etcdOnly: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-etcd-'));
    let t0 = performance.now();
    const { proc } = await startEtcd({ binary: bin.etcd, dir });
    etcdOnly.push(since(t0));
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });

    t0 = performance.now();
    const plane = await startControlPlane();
    full.push(since(t0));
    await plane.stop();
    process.stderr.write(`round ${i + 1}/${rounds}: control plane ${round(full.at(-1) as number)} s\n`);
  }
  return {
    rounds,
    startup_p50_s: round(quantile(full, 0.5)),
    startup_max_s: round(Math.max(...full)),
    baseline_etcd_p50_s: round(quantile(etcdOnly, 0.5)),
    ratio_p50: round(quantile(full, 0.5) / quantile(etcdOnly, 0.5), 2),
  };
}
