import type { Clock } from './clock.ts';
import { NotLeaderError } from './errors.ts';

/**
 * The one gate every leader-only write passes. It refuses unless this replica holds the lease
 * *and* is still inside its trusted window (last successful renew sent + renew deadline), judged
 * on the local monotonic clock at the moment of the write — so a replica resumed after SIGSTOP
 * refuses even before any timer has run.
 */
export interface FencingGuard {
  /** Throws NotLeaderError unless a write may proceed now. */
  check(): void;
  /** True when check() would pass. */
  valid(): boolean;
  /**
   * Runs `fn` if check() passes, with a signal that aborts when the trusted window closes or the
   * term ends, so an in-flight request is cancelled instead of landing late.
   */
  write<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Milliseconds left in the trusted window (0 when not leading). */
  remainingMs(): number;
}

export interface TermView {
  /** The current term's signal, or undefined when not leading. */
  termSignal(): AbortSignal | undefined;
  /** Monotonic time until which the lease is trusted. */
  trustedUntil(): number;
}

export function createFencingGuard(view: TermView, clock: Clock): FencingGuard {
  const remainingMs = (): number => {
    const term = view.termSignal();
    if (!term || term.aborted) return 0;
    return Math.max(0, view.trustedUntil() - clock.now());
  };
  const guard: FencingGuard = {
    remainingMs,
    valid: () => remainingMs() > 0,
    check() {
      if (remainingMs() <= 0) throw new NotLeaderError();
    },
    async write(fn) {
      guard.check();
      const term = view.termSignal() as AbortSignal;
      return fn(AbortSignal.any([term, AbortSignal.timeout(Math.max(1, Math.floor(remainingMs())))]));
    },
  };
  return guard;
}
