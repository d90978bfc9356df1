/**
 * Exponential backoff with jitter for dialling GMs: the n-th consecutive failure waits
 * `min(max, min·2^n)` scaled by a random factor in [0.5, 1) ("equal jitter"), so thousands of LCs
 * that lost the same replica do not reconnect in lockstep, yet none waits less than half the step.
 */
import { ConfigError } from '../common/errors.ts';

export interface BackoffInit {
  /** First delay (ms) before jitter. */
  minMs: number;
  /** Largest delay (ms) before jitter. */
  maxMs: number;
  /** Random source in [0, 1); injected by tests. Default Math.random. */
  random?: () => number;
}

export interface Backoff {
  /** The next delay (ms); each call doubles the step up to the cap. */
  next(): number;
  /** Back to the first step (after a success). */
  reset(): void;
  /** Consecutive failures counted since the last reset. */
  readonly attempts: number;
}

export function createBackoff(init: BackoffInit): Backoff {
  if (!(init.minMs > 0 && init.maxMs >= init.minMs)) throw new ConfigError('backoff needs 0 < minMs <= maxMs');
  const random = init.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
      const step = Math.min(init.maxMs, init.minMs * 2 ** Math.min(attempts, 52));
      attempts++;
      return Math.round(step * (0.5 + random() / 2));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
