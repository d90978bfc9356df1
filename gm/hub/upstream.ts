/**
 * Applies status reports to the API server: authorisation (NodeRestriction-like: only objects routed
 * to the reporting node), translation (status.ts), and GET + PUT of the status subresource with
 * retries on 409 Conflict. Writes to one object are serialised, in arrival order.
 */
import { recordHistory } from '../../common/history.ts';
import { isStatus, type KubeApiError, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import { type KubeObject, objectKey } from '../../common/sedna/objects.ts';
import type { Router } from '../../common/sedna/router.ts';
import {
  InvalidReportError,
  mutationsFor,
  type Report,
  type StatusMutation,
  withStatus,
} from '../../common/sedna/status.ts';
import { API_VERSION } from '../../crds/constants.ts';
import { kindDefinition } from '../../crds/kinds.ts';
import type { ObjectCache } from './cache.ts';
import { STATUS_WRITE_ATTEMPTS, STATUS_WRITE_CONCURRENCY, STATUS_WRITE_TIMEOUT_MS } from './constants.ts';
import type { HubMetrics } from './metrics.ts';

/** Why a report was not written; `retryable` tells a fedmesh LC whether to send it again. */
export type NackCode = 'FORBIDDEN' | 'NOT_FOUND' | 'INVALID' | 'CONFLICT' | 'UNAVAILABLE';

export type ReportOutcome =
  | { ok: true; written: number }
  | { ok: false; code: NackCode; reason: string; retryable: boolean };

export interface ReportApplier {
  apply(report: Report, dialect: 'sedna' | 'fedmesh', signal: AbortSignal): Promise<ReportOutcome>;
}

export function createReportApplier(components: {
  rest: KubeRest;
  cache: ObjectCache;
  router: Router;
  log: Logger;
  metrics: HubMetrics;
}): ReportApplier {
  const { rest, cache, router, log, metrics } = components;
  // Tail of the write chain per object: the next report for it starts after the previous finished.
  const chains = new Map<string, Promise<unknown>>();
  // A replica-wide cap on status writes in flight (FIFO): the API server sees at most this many at once.
  let writing = 0;
  const waiting: Array<() => void> = [];
  async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (writing >= STATUS_WRITE_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    writing++;
    try {
      return await fn();
    } finally {
      writing--;
      waiting.shift()?.();
    }
  }

  async function write(m: StatusMutation, signal: AbortSignal): Promise<boolean> {
    const url = `/apis/${API_VERSION}/namespaces/${m.namespace}/${kindDefinition(m.kind).plural}/${m.name}`;
    for (let attempt = 1; ; attempt++) {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(STATUS_WRITE_TIMEOUT_MS)]);
      const obj = await rest.request<KubeObject>('GET', url, { signal: deadline });
      const current =
        typeof obj.status === 'object' && obj.status !== null ? (obj.status as Record<string, unknown>) : {};
      const next = m.mutate(current);
      if (next === undefined) return false;
      try {
        // The object carries the resourceVersion read above: a concurrent writer makes this a 409.
        await rest.request('PUT', `${url}/status`, { body: withStatus(obj, next), signal: deadline });
        return true;
      } catch (err) {
        if (!isStatus(err, 409) || attempt >= STATUS_WRITE_ATTEMPTS) throw err;
      }
    }
  }

  async function applyNow(report: Report, dialect: string, signal: AbortSignal): Promise<ReportOutcome> {
    const { kind, namespace, name, node } = report;
    const key = objectKey(kind, namespace, name);
    if (!router.routes(key, node)) {
      // Unknown here may be cache lag (the LC heard of it from a replica that is ahead): worth a retry.
      if (!cache.get(kind, namespace, name)) {
        return { ok: false, code: 'NOT_FOUND', reason: `${key} is not known to this replica`, retryable: true };
      }
      return { ok: false, code: 'FORBIDDEN', reason: `${key} is not routed to node ${node}`, retryable: false };
    }
    let mutations: StatusMutation[];
    try {
      mutations = mutationsFor(report, cache, new Date().toISOString());
    } catch (err) {
      if (err instanceof InvalidReportError)
        return { ok: false, code: 'INVALID', reason: err.message, retryable: false };
      throw err;
    }
    let written = 0;
    try {
      for (const m of mutations) if (await slot(() => write(m, signal))) written++;
      return { ok: true, written };
    } catch (err) {
      if (isStatus(err, 404)) return { ok: false, code: 'NOT_FOUND', reason: `${key} not found`, retryable: false };
      if (isStatus(err, 409)) return { ok: false, code: 'CONFLICT', reason: 'conflict after retries', retryable: true };
      if (isStatus(err, 422) || isStatus(err, 400)) {
        return { ok: false, code: 'INVALID', reason: (err as KubeApiError).reason, retryable: false };
      }
      log.warn({ err, object: key, node, dialect }, 'status write failed');
      return { ok: false, code: 'UNAVAILABLE', reason: 'status write failed', retryable: true };
    }
  }

  return {
    apply(report, dialect, signal) {
      const key = objectKey(report.kind, report.namespace, report.name);
      const prev = chains.get(key) ?? Promise.resolve();
      const run = prev.then(() => applyNow(report, dialect, signal));
      const tail = run.catch(() => undefined);
      chains.set(key, tail);
      void tail.then(() => {
        if (chains.get(key) === tail) chains.delete(key);
      });
      return run.then(
        (outcome) => {
          if (report.id) {
            const { instance, seq } = report.id;
            const written = outcome.ok ? outcome.written : 0;
            recordHistory('report.applied', { instance, seq, key, ok: outcome.ok, written });
          }
          metrics.reports.inc(1, { dialect, result: outcome.ok ? 'applied' : outcome.code.toLowerCase() });
          if (!outcome.ok) log.info({ object: key, node: report.node, dialect, code: outcome.code }, 'report refused');
          return outcome;
        },
        (err: unknown) => {
          log.warn({ err, object: key, node: report.node, dialect }, 'status write failed');
          metrics.reports.inc(1, { dialect, result: 'unavailable' });
          return { ok: false, code: 'UNAVAILABLE', reason: 'status write failed', retryable: true } as const;
        },
      );
    },
  };
}
