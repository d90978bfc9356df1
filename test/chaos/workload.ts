/**
 * The chaos workload, from the run's seed: per LC, Datasets changed (annotations), deleted and
 * created again, lines appended to their index files (the LC counts them: coalesced reports), and an
 * IncrementalLearningJob's worker posting stage reports (never coalesced). API calls failing while
 * the API server is down are skipped; the history holds what the LCs accepted, not what was tried.
 * `settle` waits for quiet and writes the expectations (`lc.expect`) the checker compares with.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { create, incrementalJob, mergePatch, objectsUrl, startIncrementalJob, until } from '../hub/helpers.ts';
import { type ChaosCluster, type LcHandle, NS, routedTo } from './cluster.ts';
import { prng } from './schedule.ts';

const DATASETS = 2;
const dsName = (node: string, k: number) => `ds-${node}-${k}`;

export interface WorkloadStats {
  patches: number;
  recreated: number;
  samples: number;
  workerReports: number;
  apiErrors: number;
}

function dataset(lc: LcHandle, k: number) {
  const name = dsName(lc.node, k);
  return {
    metadata: { name, labels: routedTo(lc.node) },
    spec: { url: `/data/${name}.txt`, format: 'txt', nodeName: lc.node },
  };
}

/** Creates each LC's objects (before the faults start). */
export async function seedObjects(c: ChaosCluster): Promise<void> {
  for (const lc of c.lcs) {
    for (let k = 0; k < DATASETS; k++) {
      writeFileSync(join(lc.rootfs, 'data', `${dsName(lc.node, k)}.txt`), 'sample\n');
      await create(c.rest, NS, 'Dataset', dataset(lc, k));
    }
    const job = incrementalJob(`il-${lc.node}`, dsName(lc.node, 0)) as { metadata: Record<string, unknown> };
    job.metadata.labels = routedTo(lc.node);
    await create(c.rest, NS, 'IncrementalLearningJob', job);
    await startIncrementalJob(c.rest, NS, `il-${lc.node}`);
  }
}

/** Drives changes every ~`periodMs` until `signal` aborts. */
export async function runWorkload(c: ChaosCluster, seed: number, signal: AbortSignal, periodMs = 150) {
  const r = prng(seed ^ 0x5eed);
  const s: WorkloadStats = { patches: 0, recreated: 0, samples: 0, workerReports: 0, apiErrors: 0 };
  let step = 0;
  while (!signal.aborted) {
    await sleep(periodMs * (0.5 + r()), signal).catch(() => {});
    if (signal.aborted) break;
    const lc = c.lcs[Math.floor(r() * c.lcs.length)] as LcHandle;
    const k = Math.floor(r() * DATASETS);
    const x = r();
    step++;
    try {
      if (x < 0.35) {
        await mergePatch(c.rest, NS, 'Dataset', dsName(lc.node, k), {
          metadata: { annotations: { step: String(step) } },
        });
        s.patches++;
      } else if (x < 0.65) {
        appendFileSync(join(lc.rootfs, 'data', `${dsName(lc.node, k)}.txt`), `sample-${step}\n`);
        s.samples++;
      } else if (x < 0.95) {
        const body = {
          name: `il-${lc.node}-train`,
          namespace: NS,
          ownerName: `il-${lc.node}`,
          ownerKind: 'incrementallearningjob',
          kind: 'train',
          status: 'waiting',
          results: [{ format: 'pb', url: `/chaos/${lc.node}/${step}` }],
        };
        const res = await fetch(`${lc.url}/sedna/workers/il-${lc.node}-train/info`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
        if (res?.ok) s.workerReports++;
      } else {
        // The IL job reads ds-*-0: only the other one is deleted and created again.
        await c.rest.request('DELETE', objectsUrl(NS, 'Dataset', dsName(lc.node, 1)));
        c.history('object.recreated', { key: `Dataset/${NS}/${dsName(lc.node, 1)}` });
        await create(c.rest, NS, 'Dataset', dataset(lc, 1));
        s.recreated++;
      }
    } catch {
      s.apiErrors++;
    }
  }
  return s;
}

/** key (`Kind/ns/name`) → resourceVersion of every object the API routes to `node`. */
async function apiObjects(rest: KubeRest, node: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const kind of ['Dataset', 'IncrementalLearningJob'] as const) {
    const list = await rest.request<{ items: Array<{ metadata: { name: string; resourceVersion: string } }> }>(
      'GET',
      objectsUrl(NS, kind),
      { query: { labelSelector: `${Object.keys(routedTo(node))[0]}=true` } },
    );
    for (const o of list.items) out[`${kind}/${NS}/${o.metadata.name}`] = o.metadata.resourceVersion;
  }
  return out;
}

async function lcObjects(lc: LcHandle): Promise<Record<string, string> | undefined> {
  const r = await fetch(`${lc.url}/fedmesh/objects`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  if (!r?.ok) return undefined;
  const body = (await r.json()) as {
    items: Array<{ kind: string; namespace: string; name: string; resourceVersion?: string }>;
  };
  return Object.fromEntries(body.items.map((o) => [`${o.kind}/${o.namespace}/${o.name}`, o.resourceVersion ?? '']));
}

async function outbox(lc: LcHandle): Promise<number> {
  const text = await (await fetch(`${lc.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('fedmesh_lc_outbox_reports'));
  return Number(line?.slice(line.lastIndexOf(' ') + 1) ?? Number.NaN);
}

/**
 * Waits until every LC holds what the API routes to it and its outbox is empty (or `ms` passed),
 * then writes `lc.expect` per LC. Returns how long it took (ms), or undefined on timeout.
 */
export async function settle(c: ChaosCluster, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  let converged = true;
  await until('every LC converged with an empty outbox', ms, async () => {
    for (const lc of c.lcs) {
      const want = await apiObjects(c.rest, lc.node).catch(() => undefined);
      const have = await lcObjects(lc);
      if (!want || !have || JSON.stringify(Object.entries(want).sort()) !== JSON.stringify(Object.entries(have).sort()))
        return false;
      if ((await outbox(lc).catch(() => Number.NaN)) !== 0) return false;
    }
    return true;
  }).catch(() => {
    converged = false;
  });
  for (const lc of c.lcs) c.history('lc.expect', { node: lc.node, objects: await apiObjects(c.rest, lc.node) });
  return converged ? performance.now() - t0 : undefined;
}
