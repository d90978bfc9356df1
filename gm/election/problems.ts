import { KubeApiError } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';

/** A Lease request of the elector. */
export type LeaseOp = 'get' | 'create' | 'update';

/**
 * The API server refused the last acquire/renew attempt: a problem no retry outlives until someone
 * changes the cluster (the Lease namespace does not exist, RBAC forbids the Lease). Conflicts are
 * not problems: they are how contenders lose a race.
 */
export interface LeaseProblem {
  op: LeaseOp;
  /** HTTP status, e.g. 404. */
  status: number;
  /** The Status object's reason, e.g. `NotFound`, `Forbidden`. */
  reason: string;
  /** `404 NotFound: namespaces "sedna" not found`: status, reason and the API server's message. */
  message: string;
}

/** A short, bounded label for why a request failed: the API's reason, `Timeout`, or the socket error's code. */
export function failureReason(err: unknown): string {
  if (err instanceof KubeApiError) return err.reason;
  const e = err as { name?: string; code?: unknown } | undefined;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'Timeout';
  if (typeof e?.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
  return typeof e?.name === 'string' ? e.name : 'Unknown';
}

export interface ProblemReporter {
  /** An attempt ended with `err` during `op`. */
  failed(err: unknown, op: LeaseOp): void;
  /** An attempt completed (acquired, renewed, or read a lease someone else holds). */
  succeeded(): void;
  /** The API's refusal of the last attempt, if it was refused. */
  current(): LeaseProblem | undefined;
}

/**
 * Says what is wrong with the Lease requests without repeating it every retry period: one warning
 * per distinct failure until an attempt succeeds again, which is logged once too.
 */
export function createProblemReporter(
  init: { namespace: string },
  c: { log: Logger; onFailure?: (reason: string) => void },
): ProblemReporter {
  let problem: LeaseProblem | undefined;
  const told = new Set<string>();
  return {
    current: () => problem,
    failed(err, op) {
      const reason = failureReason(err);
      c.onFailure?.(reason);
      if (err instanceof KubeApiError && err.status === 409) {
        // A lost race: the namespace exists and we may write the Lease.
        problem = undefined;
        c.log.debug({ op, err }, 'lease request conflicted');
        return;
      }
      if (err instanceof KubeApiError) problem = { op, status: err.status, reason, message: err.message };
      const key = `${op} ${err instanceof KubeApiError ? err.status : ''} ${reason}`;
      if (told.has(key)) {
        c.log.debug({ op, reason, err }, 'acquire/renew attempt failed');
        return;
      }
      told.add(key);
      if (err instanceof KubeApiError && op === 'create' && err.status === 404) {
        c.log.warn(
          { namespace: init.namespace, status: err.status, reason, err },
          'lease namespace not found; retrying',
        );
      } else if (err instanceof KubeApiError) {
        c.log.warn({ op, status: err.status, reason, err }, 'lease request refused by the api server; retrying');
      } else {
        c.log.warn({ op, reason, err }, 'lease request failed; retrying');
      }
    },
    succeeded() {
      if (told.size > 0) c.log.info({ failures: [...told] }, 'lease requests succeed again');
      told.clear();
      problem = undefined;
    },
  };
}
