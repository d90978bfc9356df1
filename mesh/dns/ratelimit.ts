/**
 * Per-source query rate limit: a token bucket per source address, refilled continuously. The
 * table is bounded: beyond `maxSources` the oldest bucket goes (a spoofed flood from many
 * addresses then only forgets limits, it cannot grow memory).
 */

export interface RateLimitInit {
  /** Sustained queries per second from one source. */
  qps: number;
  /** Queries a source may send at once. */
  burst: number;
  maxSources: number;
  /** Monotonic clock, ms (tests). */
  now?: () => number;
}

export interface RateLimiter {
  /** True when `source` may send one more query now (and takes the token). */
  allow(source: string): boolean;
  readonly sources: number;
}

export function createRateLimiter(init: RateLimitInit): RateLimiter {
  const now = init.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = init.qps / 1000;
  return {
    allow(source) {
      const t = now();
      let b = buckets.get(source);
      if (!b) {
        if (buckets.size >= init.maxSources) {
          const oldest = buckets.keys().next().value;
          if (oldest !== undefined) buckets.delete(oldest);
        }
        b = { tokens: init.burst, at: t };
        buckets.set(source, b);
      } else {
        b.tokens = Math.min(init.burst, b.tokens + (t - b.at) * perMs);
        b.at = t;
      }
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    get sources() {
      return buckets.size;
    },
  };
}
