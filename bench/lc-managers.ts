/**
 * The LC's managers: a real LC process and a real GM replica on a real control plane.
 *   - dataset_update_p50_s / p99_s: one sample appended to a Dataset's local index file →
 *     `status.numberOfSamples` updated in the API (fs.watch, the outbox, the GM), over ROUNDS appends;
 *     baseline: Sedna's LC re-reads the file every 60 s (`baseline_sedna_period_s`), so a sample waits
 *     30 s on average and up to 60 s. The LC here runs with that same 60 s period: only the watch
 *     explains a faster figure.
 *   - rss_mib_idle: the LC's resident memory, idle with that one Dataset.
 *   - trigger_to_pod_p50_s / p99_s, rss_mib_100_jobs (beside rss_mib_0_jobs, the same LC before the
 *     jobs came): incremental learning with the GM's operators, see lc/trigger.ts; target: the pod
 *     within 2 s of the append with `checkPeriodSeconds: 1`, 100 jobs adding at most 50 MiB.
 *   npm run -s bench -- lc-managers [ROUNDS] [JOBS]   (ROUNDS default 50, JOBS default 100)
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../common/async.ts';
import { createKubeRest } from '../common/kube/rest.ts';
import { freePort } from '../common/net/ports.ts';
import { spawnManaged } from '../common/process/index.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { installCrds } from '../crds/install.ts';
import { DATASET_PERIOD_MS } from '../lc/constants.ts';
import { startReplica } from '../test/gm/replicas.ts';
import { create, get, HUB_ONLY, nodeToken, until } from '../test/hub/helpers.ts';
import { rssMib, triggerFigures } from './lc/trigger.ts';
import { quantile, round } from './stats.ts';

const log = (m: string) => process.stderr.write(`lc-managers bench: ${m}\n`);
const CLI = join(import.meta.dirname, '..', 'cli', 'fedmesh.ts');

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rounds = Number(args[0] ?? 50);
  const jobs = Number(args[1] ?? 100);
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-lc-'));
  const plane = await startControlPlane({ log });
  const rest = await createKubeRest(plane.kubeConfig());
  const stops: Array<() => Promise<unknown>> = [];
  try {
    await installCrds(plane.kubeConfig());
    const ns = 'bench-lc';
    await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, await nodeToken(rest, ns, 'edge-1'));
    const gm = await startReplica(plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
    stops.push(() => gm.proc.stop('SIGKILL'));
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'data'), { recursive: true });
    const file = join(rootfs, 'data', 'index.txt');
    writeFileSync(file, 'sample-0\n');
    const httpPort = await freePort();
    const lc = spawnManaged({
      name: 'lc edge-1',
      cmd: process.execPath,
      args: [
        CLI,
        'lc',
        '--node',
        'edge-1',
        '--gm',
        `127.0.0.1:${gm.wsPort}`,
        '--http-listen',
        `127.0.0.1:${httpPort}`,
        '--state-dir',
        join(dir, 'state'),
        '--token-file',
        tokenFile,
        '--rootfs',
        rootfs,
        '--dataset-period',
        `${DATASET_PERIOD_MS / 1000}s`,
      ],
      logFile: join(dir, 'lc.log'),
    });
    stops.push(() => lc.stop('SIGKILL'));
    await create(rest, ns, 'Dataset', {
      metadata: { name: 'ds' },
      spec: { url: '/data/index.txt', format: 'txt', nodeName: 'edge-1' },
    });
    const samples = async () =>
      (await get<{ status?: { numberOfSamples?: number } }>(rest, ns, 'Dataset', 'ds')).status?.numberOfSamples;
    await until('the first count', 60_000, async () => (await samples()) === 1);

    const delays: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      const t0 = performance.now();
      appendFileSync(file, `sample-${i}\n`);
      while ((await samples()) !== i + 1) {
        if (performance.now() - t0 > 2 * DATASET_PERIOD_MS) throw new Error(`append ${i} not seen`);
        await sleep(5);
      }
      delays.push((performance.now() - t0) / 1000);
      await sleep(200); // separate appends: each is its own change, not one debounced burst
    }
    await sleep(2000);
    const idle = rssMib(lc.pid);
    const trigger = await triggerFigures({ plane, rest, dir, stops, jobs, rounds: Math.min(rounds, jobs), log });
    return {
      rounds,
      dataset_update_p50_s: round(quantile(delays, 0.5)),
      dataset_update_p99_s: round(quantile(delays, 0.99)),
      dataset_update_max_s: round(Math.max(...delays)),
      baseline_sedna_period_s: DATASET_PERIOD_MS / 1000,
      rss_mib_idle: idle,
      ...trigger,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await plane.stop();
    rest.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
