import { historyOn, monotonicUs, recordHistory } from '../../common/history.ts';
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
   * Runs `fn` if check() passes, with a signal that aborts when the trusted window closes (renewals
   * meanwhile extend it) or the term ends, so an in-flight request is cancelled instead of landing
   * late. A write cancelled that way rejects with NotLeaderError, not the request's AbortError.
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
  /** The lease's leaderTransitions when this term began (for the chaos history only). */
  epoch?(): number | undefined;
}

export function createFencingGuard(view: TermView, clock: Clock): FencingGuard {
  // Terms whose end the chaos history will record: from that moment the guard refuses.
  const watched = new WeakSet<AbortSignal>();
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
      if (historyOn && !watched.has(term)) {
        watched.add(term);
        const epoch = view.epoch?.();
        term.addEventListener('abort', () => recordHistory('term.end', { epoch }), { once: true });
      }
      // The chaos checker's evidence: who passed, in which term, trusting the lease until when.
      recordHistory('guard.pass', { epoch: view.epoch?.(), until: monotonicUs() + Math.floor(remainingMs() * 1000) });
      // The window is judged again when it would have closed: a renew since then moved it, and a
      // slow request that a renewed leader sent (a Pod admission waiting ~1.3 s for a missing
      // ServiceAccount) must come back with the API's answer, not be cut off at the old deadline.
      const closed = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        timer = setTimeout(
          () => (remainingMs() > 0 ? arm() : closed.abort(new NotLeaderError())),
          Math.max(1, Math.ceil(remainingMs())),
        );
      };
      arm();
      try {
        return await fn(AbortSignal.any([term, closed.signal]));
      } catch (err) {
        // Only the abort is translated: an answer the API server gave stays what it was.
        const aborted = (err as Error)?.name === 'AbortError' || err === term.reason || err === closed.signal.reason;
        if (aborted && (term.aborted || closed.signal.aborted)) {
          throw new NotLeaderError('leadership ended while the write was in flight', { cause: err });
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return guard;
}
