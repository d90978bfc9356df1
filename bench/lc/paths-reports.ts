/**
 * Reports across path switches, for bench/lc-paths.ts: while the rounds run, the LC accepts a
 * report of a non-coalescing kind (an IncrementalLearningJob stage report, each carrying its own
 * number as an output model URL) every 400 ms and a coalescing one (the Dataset's
 * `numberOfSamples`, counting up) every 200 ms, whatever path is up. At the end, once the outbox is
 * empty, what reached the API is counted per object:
 *   - IL: each accepted report must be exactly one condition (0 = lost, 2+ = duplicated);
 *   - Dataset (last write wins, docs/lc.md): the stored count must be the last one accepted (else
 *     one lost), and a watch on the object counts every write that went back to an older count
 *     (an older report applied after a newer one: duplicated).
 */
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import type { Lc } from '../../lc/index.ts';
import { create, get, incrementalJob, objectsUrl, startIncrementalJob, until } from '../../test/hub/helpers.ts';

const IL = 'il';
const MARK = '/bench/report/';

export interface ReportTally {
  reports_accepted: Record<string, number>;
  reports_reached: Record<string, number>;
  reports_lost: number;
  reports_duplicated: number;
}

export interface ReportTracker {
  /** Stops reporting; waits for the outbox to drain and counts what reached the API. */
  settle(): Promise<ReportTally>;
}

/** Creates the IL job for `node` (reading Dataset `dataset`) and reports until settle(). */
export async function trackReports(init: {
  lc: Lc;
  rest: KubeRest;
  ns: string;
  node: string;
  dataset: string;
}): Promise<ReportTracker> {
  const { lc, rest, ns, node, dataset } = init;
  const job = incrementalJob(IL, dataset) as { metadata: Record<string, unknown> };
  job.metadata.labels = { [targetLabel(node)]: 'true' };
  await create(rest, ns, 'IncrementalLearningJob', job);
  await startIncrementalJob(rest, ns, IL);
  await until('the IL job at the LC', 30_000, () => lc.store.getObject('IncrementalLearningJob', ns, IL) !== undefined);

  const ac = new AbortController();
  // Every numberOfSamples the API stored, in order: a smaller one after a larger is an older report applied late.
  let regressions = 0;
  let highest = -1;
  const watcher = (async () => {
    while (!ac.signal.aborted) {
      try {
        for await (const ev of rest.watch<{ status?: { numberOfSamples?: number } }>(objectsUrl(ns, 'Dataset'), {
          query: { fieldSelector: `metadata.name=${dataset}` },
          signal: ac.signal,
        })) {
          const n = ev.object?.status?.numberOfSamples;
          if (typeof n !== 'number') continue;
          if (n < highest) regressions++;
          highest = Math.max(highest, n);
        }
      } catch {
        // the watch ended (aborted, or the server closed it): start again from now
      }
    }
  })();
  let il = 0;
  let ds = 0;
  const reporter = (async () => {
    for (let tick = 0; !ac.signal.aborted; tick++) {
      // Counted only once accepted (a refusal, e.g. a full outbox, is the worker's to retry).
      try {
        lc.report({ kind: 'Dataset', namespace: ns, name: dataset, status: { numberOfSamples: ds + 1 } });
        ds++;
      } catch {}
      if (tick % 2 === 0) {
        try {
          lc.report({
            kind: 'IncrementalLearningJob',
            namespace: ns,
            name: IL,
            status: { phase: 'train', status: 'waiting', output: { models: [{ format: 'pb', url: `${MARK}${il}` }] } },
          });
          il++;
        } catch {}
      }
      await sleep(200);
    }
  })();

  return {
    async settle() {
      ac.abort();
      await reporter;
      await until('the outbox drained', 60_000, () => lc.status().outboxReports === 0);
      await sleep(1000); // the last write's watch event
      await watcher;
      const job = await get<{ status?: { conditions?: Array<{ data?: string }> } }>(
        rest,
        ns,
        'IncrementalLearningJob',
        IL,
      );
      const seen = new Map<number, number>();
      for (const c of job.status?.conditions ?? []) {
        const url = (JSON.parse(c.data ?? '{}') as { output?: { models?: Array<{ url?: string }> } }).output
          ?.models?.[0]?.url;
        if (!url?.startsWith(MARK)) continue;
        const k = Number(url.slice(MARK.length));
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
      let lost = 0;
      let duplicated = regressions;
      for (let k = 0; k < il; k++) {
        const c = seen.get(k) ?? 0;
        if (c === 0) lost++;
        if (c > 1) duplicated += c - 1;
      }
      const stored = (await get<{ status?: { numberOfSamples?: number } }>(rest, ns, 'Dataset', dataset)).status
        ?.numberOfSamples;
      if (stored !== ds) lost++;
      return {
        reports_accepted: { [`IncrementalLearningJob/${IL}`]: il, [`Dataset/${dataset}`]: ds },
        reports_reached: {
          [`IncrementalLearningJob/${IL}`]: [...seen.values()].reduce((a, b) => a + b, 0),
          [`Dataset/${dataset}`]: stored ?? 0,
        },
        reports_lost: lost,
        reports_duplicated: duplicated,
      };
    },
  };
}
