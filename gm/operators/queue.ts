import { DEFAULT_BASE_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS } from './constants.ts';

/** Time as the work queue sees it; injected so tests drive delays without waiting. */
export interface QueueClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemQueueClock: QueueClock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface WorkQueueInit {
  /** First retry delay after a failure, ms; doubles per consecutive failure of the same key. Default 5. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay, ms. Default 300 000. */
  maxDelayMs?: number;
}

/**
 * client-go's rate-limited work queue semantics:
 * - a key is queued at most once however often it is added (de-duplication);
 * - a key handed to a worker is not handed to another until `done(key)`; adds meanwhile mark it
 *   dirty and it is queued again on `done` (never two workers on one key, no lost update);
 * - `addRateLimited` delays by the key's exponential backoff; `forget` resets it.
 */
export interface WorkQueue {
  add(key: string): void;
  /** Adds after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void;
  /** Adds after this key's next backoff delay and counts the failure. */
  addRateLimited(key: string): void;
  /** The delay the next `addRateLimited(key)` would use, ms. */
  nextDelay(key: string): number;
  /** Resets the key's failure count (call after a successful reconcile). */
  forget(key: string): void;
  /** Consecutive failures counted for the key. */
  numRequeues(key: string): number;
  /** Waits for the next key; undefined once shut down or `signal` aborted. Pair every key with `done`. */
  get(signal?: AbortSignal): Promise<string | undefined>;
  /** The worker finished the key; queues it again if it was added meanwhile. */
  done(key: string): void;
  /** Keys ready to be handed out (not delayed, not in process). */
  len(): number;
  /** Keys waiting for a delay to pass. */
  delayed(): number;
  /** Keys currently held by workers. */
  processing(): number;
  /** Stops handing out keys, cancels delays and wakes every waiting `get` with undefined. */
  shutDown(): void;
}

export function createWorkQueue(init: WorkQueueInit = {}, clock: QueueClock = systemQueueClock): WorkQueue {
  const base = init.baseDelayMs ?? DEFAULT_BASE_BACKOFF_MS;
  const max = init.maxDelayMs ?? DEFAULT_MAX_BACKOFF_MS;
  const ready: string[] = [];
  let head = 0;
  const dirty = new Set<string>();
  const inProcess = new Set<string>();
  const timers = new Map<string, { at: number; cancel: () => void }>();
  const failures = new Map<string, number>();
  const waiters: ((key: string | undefined) => void)[] = [];
  let closed = false;

  function push(key: string): void {
    const w = waiters.shift();
    if (w) {
      dirty.delete(key);
      inProcess.add(key);
      w(key);
    } else ready.push(key);
  }

  function add(key: string): void {
    if (closed || dirty.has(key)) return;
    dirty.add(key);
    if (!inProcess.has(key)) push(key);
  }

  function delayFor(key: string): number {
    const n = failures.get(key) ?? 0;
    // 2^n overflows nothing here: the cap applies long before (n ≈ 16 for the defaults).
    return Math.min(max, base * 2 ** Math.min(n, 52));
  }

  const q: WorkQueue = {
    add,
    addAfter(key, ms) {
      if (closed) return;
      if (ms <= 0) return add(key);
      const at = clock.now() + ms;
      const pending = timers.get(key);
      if (pending && pending.at <= at) return;
      pending?.cancel();
      const cancel = clock.setTimer(() => {
        timers.delete(key);
        add(key);
      }, ms);
      timers.set(key, { at, cancel });
    },
    addRateLimited(key) {
      const d = delayFor(key);
      failures.set(key, (failures.get(key) ?? 0) + 1);
      q.addAfter(key, d);
    },
    nextDelay: delayFor,
    forget(key) {
      failures.delete(key);
    },
    numRequeues: (key) => failures.get(key) ?? 0,
    get(signal) {
      if (closed || signal?.aborted) return Promise.resolve(undefined);
      if (head < ready.length) {
        const key = ready[head++] as string;
        if (head > 1024 && head * 2 > ready.length) {
          ready.splice(0, head);
          head = 0;
        }
        dirty.delete(key);
        inProcess.add(key);
        return Promise.resolve(key);
      }
      return new Promise((resolve) => {
        const w = (key: string | undefined) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(key);
        };
        const onAbort = () => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          resolve(undefined);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(w);
      });
    },
    done(key) {
      inProcess.delete(key);
      if (dirty.has(key) && !closed) push(key);
    },
    len: () => ready.length - head,
    delayed: () => timers.size,
    processing: () => inProcess.size,
    shutDown() {
      closed = true;
      for (const t of timers.values()) t.cancel();
      timers.clear();
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
  return q;
}
