/**
 * Incremental learning figures of `npm run bench -- lc-managers`, with a real LC and a GM running
 * the operators on the same control plane (their own namespace, node and LC):
 *   - rss_mib_100_jobs: the LC's RSS holding JOBS IncrementalLearningJobs (each with its Dataset and
 *     index file) at Train/Waiting, beside `rss_mib_0_jobs`, the same LC before they came;
 *   - trigger_to_pod_p50_s / p99_s: samples appended that satisfy a job's trigger
 *     (`checkPeriodSeconds: 1`, `num_of_samples >= 1`) → its train pod exists in the API, over
 *     ROUNDS jobs, one at a time. The check period bounds the LC's part (up to 1 s + a 250 ms tick).
 *
 * The namespace gets its `default` ServiceAccount by hand: no kube-controller-manager runs, and the
 * IL operator's first act is the inference worker's pod, which the API refuses without it; the job
 * then never gets its first condition, and the GM sends an IL job to its node only after that
 * (as Sedna's GM), so the LC would never hold it.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import type { ControlPlane } from '../../controlplane/index.ts';
import { exampleObject } from '../../examples/index.ts';
import { startReplica } from '../../test/gm/replicas.ts';
import { create, nodeToken, until } from '../../test/hub/helpers.ts';
import { quantile, round } from '../stats.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

/** Resident set of a process (MiB), from /proc. */
export function rssMib(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return round(kb / 1024, 1);
}

export interface TriggerBenchInit {
  plane: ControlPlane;
  rest: KubeRest;
  /** Scratch directory (the LC's rootfs and state go under it). */
  dir: string;
  /** Cleanups, run by the caller in reverse order. */
  stops: Array<() => Promise<unknown>>;
  /** Jobs the LC holds for the RSS figure. */
  jobs: number;
  /** Jobs whose trigger is fired, one at a time, for the latency figures (≤ jobs). */
  rounds: number;
  log: (m: string) => void;
}

export async function triggerFigures(init: TriggerBenchInit): Promise<Record<string, number>> {
  const { plane, rest, dir, stops, log } = init;
  const ns = 'bench-il';
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'default' } } });
  const tokenFile = join(dir, 'il-token');
  writeFileSync(tokenFile, await nodeToken(rest, ns, 'edge-il'));
  const gm = await startReplica(plane, {
    id: 'il',
    namespace: ns,
    readyz: 'replica',
    args: ['--watch-namespace', ns],
    logFile: join(dir, 'gm-il.log'),
  });
  stops.push(() => gm.proc.stop('SIGKILL'));
  const rootfs = join(dir, 'il-rootfs');
  const state = join(dir, 'il-state');
  mkdirSync(join(rootfs, 'data'), { recursive: true });
  const httpPort = await freePort();
  const lc = spawnManaged({
    name: 'lc edge-il',
    cmd: process.execPath,
    args: [
      CLI,
      'lc',
      '--node',
      'edge-il',
      '--gm',
      `127.0.0.1:${gm.wsPort}`,
      '--http-listen',
      `127.0.0.1:${httpPort}`,
    ].concat(['--state-dir', state, '--token-file', tokenFile, '--rootfs', rootfs]),
    logFile: join(dir, 'lc-il.log'),
  });
  stops.push(() => lc.stop('SIGKILL'));
  await until('the LC answers', 20_000, async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
    return r?.ok === true;
  });
  await sleep(2000);
  const rss0 = rssMib(lc.pid);

  for (const id of ['Model/initial-model', 'Model/deploy-model']) {
    const m = exampleObject(id) as { metadata: { name: string }; spec: unknown };
    await create(rest, ns, 'Model', { metadata: { name: m.metadata.name }, spec: m.spec });
  }
  const job = exampleObject('IncrementalLearningJob/helmet-detection-demo') as { spec: Record<string, unknown> };
  const names = Array.from({ length: init.jobs }, (_, i) => `il-${i}`);
  for (const name of names) {
    writeFileSync(join(rootfs, 'data', `${name}.txt`), '');
    await create(rest, ns, 'Dataset', {
      metadata: { name },
      spec: { url: `/data/${name}.txt`, format: 'txt', nodeName: 'edge-il' },
    });
    const spec = structuredClone(job.spec) as Record<string, Record<string, unknown>>;
    spec.dataset = { name, trainProb: 0.5 };
    (spec.trainSpec as Record<string, unknown>).trigger = {
      checkPeriodSeconds: 1,
      condition: { operator: '>=', threshold: 1, metric: 'num_of_samples' },
    };
    spec.outputDir = `/output/${name}` as unknown as Record<string, unknown>;
    await create(rest, ns, 'IncrementalLearningJob', { metadata: { name }, spec });
  }
  // Every job at Train/Waiting in the LC's store: what the LC holds is what it waits on.
  const waiting = () => {
    const db = new DatabaseSync(join(state, 'lc.db'), { readOnly: true });
    try {
      return db
        .prepare("SELECT body FROM objects WHERE kind = 'IncrementalLearningJob'")
        .all()
        .filter((r) => {
          const j = JSON.parse(String(r.body)) as { status?: { conditions?: Array<{ type: string }> } };
          return j.status?.conditions?.at(-1)?.type === 'Waiting';
        }).length;
    } finally {
      db.close();
    }
  };
  let seen = -1;
  await until('every job waiting at the LC', 300_000, () => {
    const n = waiting();
    if (n !== seen) log(`${n}/${init.jobs} jobs waiting at the LC`);
    seen = n;
    return n === init.jobs;
  });
  await sleep(3000);
  const rss100 = rssMib(lc.pid);

  const pods = async () =>
    (
      await rest.request<{ items: Array<{ metadata: { name: string } }> }>('GET', `/api/v1/namespaces/${ns}/pods`)
    ).items.map((p) => p.metadata.name);
  const delays: number[] = [];
  for (const name of names.slice(0, init.rounds)) {
    const t0 = performance.now();
    appendFileSync(join(rootfs, 'data', `${name}.txt`), 'a.jpg\nb.jpg\n');
    for (;;) {
      if ((await pods()).some((p) => p.startsWith(`${name}-train-`))) break;
      if (performance.now() - t0 > 30_000) throw new Error(`no train pod for ${name}`);
      await sleep(10);
    }
    delays.push((performance.now() - t0) / 1000);
  }
  return {
    trigger_rounds: delays.length,
    trigger_to_pod_p50_s: round(quantile(delays, 0.5)),
    trigger_to_pod_p99_s: round(quantile(delays, 0.99)),
    trigger_to_pod_max_s: round(Math.max(...delays)),
    trigger_check_period_s: 1,
    jobs: init.jobs,
    rss_mib_0_jobs: rss0,
    rss_mib_100_jobs: rss100,
    rss_mib_100_jobs_added: round(rss100 - rss0, 1),
  };
}
