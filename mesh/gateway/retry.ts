/**
 * Istio's retry policy (HTTPRetry) as Envoy applies it: which failures are retried, how many
 * times, with what back-off. Pure; the proxy asks `retriable` after each attempt.
 */
import { parseDuration } from '../../common/duration.ts';
import {
  DEFAULT_RETRIABLE_CODES,
  DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_ON,
  RETRY_BASE_MS,
  RETRY_MAX_MS,
} from './constants.ts';

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). */
  attempts: number;
  /** Deadline of one attempt, ms; undefined: the route's timeout only. */
  perTryTimeoutMs?: number;
  on: ReadonlySet<string>;
  codes: ReadonlySet<number>;
}

/** What an attempt ended with. */
export type Outcome = { failure: 'connect-failure' | 'reset' | 'per-try-timeout' } | { status: number };

/** retryOn values Envoy knows for HTTP (gRPC ones are accepted and apply to gRPC statuses). */
const KNOWN = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export class RetryPolicyError extends Error {
  override name = 'RetryPolicyError';
  code = 'ERR_INVALID_RETRY';
}

/** The policy of a route's `retries` (absent: Istio's default of 2 retries on connect failures and 503). */
export function retryPolicy(
  retries: { attempts?: number; perTryTimeout?: string; retryOn?: string } | undefined,
): RetryPolicy {
  const attempts = retries ? (retries.attempts ?? DEFAULT_RETRY_ATTEMPTS) : DEFAULT_RETRY_ATTEMPTS;
  const retryOn = retries?.retryOn ?? DEFAULT_RETRY_ON;
  const on = new Set<string>();
  const codes = new Set<number>(retries?.retryOn === undefined ? DEFAULT_RETRIABLE_CODES : []);
  for (const raw of retryOn.split(',')) {
    const v = raw.trim();
    if (!v) continue;
    if (/^\d{3}$/.test(v)) {
      // Istio turns status codes listed in retryOn into retriable-status-codes.
      codes.add(Number(v));
      on.add('retriable-status-codes');
    } else if (KNOWN.has(v)) on.add(v);
    else throw new RetryPolicyError(`retryOn: unknown condition "${v}"`);
  }
  const policy: RetryPolicy = { attempts, on, codes };
  if (retries?.perTryTimeout !== undefined) {
    let ms: number;
    try {
      ms = parseDuration(retries.perTryTimeout);
    } catch (err) {
      throw new RetryPolicyError(`perTryTimeout: ${(err as Error).message}`);
    }
    if (ms > 0) policy.perTryTimeoutMs = ms;
  }
  return policy;
}

/** Whether this outcome of an attempt is retried under `p` (attempts left is the caller's count). */
export function retriable(p: RetryPolicy, o: Outcome): boolean {
  const has = (c: string) => p.on.has(c);
  if ('failure' in o) {
    if (has('5xx') || has('gateway-error') || has('reset')) return true;
    return o.failure === 'connect-failure' && (has('connect-failure') || has('reset-before-request'));
  }
  const s = o.status;
  if (has('5xx') && s >= 500) return true;
  if (has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
  if (has('retriable-4xx') && s === 409) return true;
  return has('retriable-status-codes') && p.codes.has(s);
}

/** Envoy's back-off before retry `n` (1-based): fully jittered, doubling from the base, capped. */
export function backoffMs(n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_BASE_MS * (2 ** n - 1), RETRY_MAX_MS);
  return Math.floor(random() * ceiling);
}
