import { sleep } from '../../common/async.ts';
import { isStatus } from '../../common/kube/rest.ts';
import { microTime } from '../../common/kube/time.ts';
import type { Logger } from '../../common/log.ts';
import { type Clock, systemClock } from './clock.ts';
import { JITTER_FACTOR, RELEASE_TIMEOUT_MS, STOP_RUNNABLES_MAX_MS, WATCH_RETRY_MS } from './constants.ts';
import { LeaseLostError } from './errors.ts';
import { createFencingGuard, type FencingGuard } from './guard.ts';
import type { LeaseLock, Observed } from './lock.ts';
import { createProblemReporter, type LeaseOp, type LeaseProblem } from './problems.ts';
import type { LeaderElectionRecord } from './record.ts';
import { validateTiming } from './timing.ts';

export interface LeaderElectorInit {
  /** How long a standby waits, from the moment it observed the last change, before taking an unrenewed lease. ms, whole seconds. Default 15 s. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it gives up (and fences). ms. Default 10 s. */
  renewDeadlineMs: number;
  /** Interval between renewals, and between a standby's polls (jittered ×1.2 as client-go). ms. Default 2 s. */
  retryPeriodMs: number;
  /**
   * Watch the Lease: acquire the moment it is released, or the moment it expires by the local
   * clock, instead of at the next poll. Default true; false behaves like client-go (poll only).
   */
  watch?: boolean;
  /** Release the lease when run()'s signal aborts (graceful shutdown). Default true. */
  releaseOnCancel?: boolean;
}

export interface LeaderCallbacks {
  /**
   * Leadership began. Start leader-only work; stop it when `signal` aborts (leadership can no
   * longer be trusted, or shutdown). The returned promise should resolve once the work stopped.
   */
  onStartedLeading(signal: AbortSignal): Promise<void> | void;
  /** Leadership ended (always called after onStartedLeading, once its work stopped or timed out). */
  onStoppedLeading(reason: string): void;
  /** The observed holder changed ('' when released). */
  onNewLeader?(identity: string): void;
}

/** Hooks for metrics; every member optional. */
export interface ElectorObserver {
  renewAttempt?(latencyMs: number, ok: boolean): void;
  apiContact?(): void;
  /** An acquire/renew attempt failed; `reason` is the API's (`NotFound`, `Conflict`), `Timeout` or a socket error code. */
  attemptFailed?(reason: string): void;
}

export interface LeaderElectorComponents {
  lock: LeaseLock;
  callbacks: LeaderCallbacks;
  log: Logger;
  clock?: Clock;
  observer?: ElectorObserver;
  /** Random source for jitter (tests pin it). */
  random?: () => number;
}

export interface ElectorStatus {
  leading: boolean;
  /** The holder as last observed ('' = released / unknown). */
  holder: string;
  /** Milliseconds since the last successful acquire/renew was sent; undefined if never. */
  lastRenewAgeMs: number | undefined;
  /** The lease watch is connected (or watching is off). */
  watchSynced: boolean;
  /** Milliseconds since any request to the API server last succeeded; undefined if never. */
  apiContactAgeMs: number | undefined;
  /** The API server refused the last acquire/renew attempt (e.g. the Lease namespace does not exist). */
  problem: LeaseProblem | undefined;
}

export interface LeaderElector {
  /**
   * Campaigns until `signal` aborts: acquire, lead (renewing), and after a lost term campaign
   * again. On abort: stop leader work, release the lease (unless releaseOnCancel is false), resolve.
   */
  run(signal: AbortSignal): Promise<void>;
  readonly guard: FencingGuard;
  isLeader(): boolean;
  status(): ElectorStatus;
}

/** A promise-based wake-up: wait(ms) ends early when wake() is called. */
function createWakeup() {
  let pending: (() => void) | undefined;
  let woken = false;
  return {
    wake() {
      woken = true;
      pending?.();
    },
    wait(ms: number, signal: AbortSignal): Promise<void> {
      if (woken || signal.aborted) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          pending = undefined;
          woken = false;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal.addEventListener('abort', done, { once: true });
        pending = done;
      });
    },
  };
}

/** Numeric comparison of etcd-backed resourceVersions; unknown shapes are treated as newer. */
function olderThan(a: string, b: string): boolean {
  return /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) < BigInt(b);
}

/**
 * A Lease elector with client-go's semantics and field usage, plus two improvements that keep it
 * compatible with client-go participants on the same Lease: standbys watch the Lease (instant
 * takeover on release, takeover at the exact local expiry), and the leader fences itself through
 * a guard judged on the monotonic clock.
 */
export function createLeaderElector(init: LeaderElectorInit, components: LeaderElectorComponents): LeaderElector {
  validateTiming(init.leaseDurationMs, init.renewDeadlineMs, init.retryPeriodMs);
  const { lock, callbacks, observer } = components;
  const log = components.log.child({ component: 'gm.election', lease: lock.describe() });
  const clock = components.clock ?? systemClock;
  const random = components.random ?? Math.random;
  const id = lock.identity;
  const watchOn = init.watch ?? true;

  // What we last saw of the lease, and when (monotonic) it last changed: expiry is judged from it.
  let observed: Observed | undefined;
  let observedAt = 0;
  let holder = '';
  // The running term, and the send time of the last successful acquire/renew.
  let term: AbortController | undefined;
  let lastRenewSentAt: number | undefined;
  let watchSynced = !watchOn;
  let lastApiContact: number | undefined;
  const wakeup = createWakeup();
  const problems = createProblemReporter(
    { namespace: lock.namespace },
    { log, onFailure: (reason) => observer?.attemptFailed?.(reason) },
  );
  let expiryTimer: NodeJS.Timeout | undefined;
  let fenceTimer: NodeJS.Timeout | undefined;

  const trustedUntil = (): number => (lastRenewSentAt ?? Number.NEGATIVE_INFINITY) + init.renewDeadlineMs;
  const epoch = () => observed?.record.leaderTransitions; // the chaos history's lease epoch
  const guard = createFencingGuard({ termSignal: () => term?.signal, trustedUntil, epoch }, clock);

  function contact(): void {
    lastApiContact = clock.now();
    observer?.apiContact?.();
  }

  function fence(reason: string): void {
    if (!term || term.signal.aborted) return;
    log.warn({ reason }, 'leadership can no longer be trusted: fencing');
    term.abort(new LeaseLostError(reason));
  }

  function armFence(): void {
    clearTimeout(fenceTimer);
    if (!term) return;
    fenceTimer = setTimeout(
      () => {
        if (clock.now() >= trustedUntil()) fence('renew deadline passed without a successful renew');
        else armFence();
      },
      Math.max(0, trustedUntil() - clock.now()),
    );
  }

  /** Records a read of the lease; the expiry clock restarts only when the record changed. */
  function note(o: Observed | undefined, source: 'read' | 'watch' | 'write'): void {
    if (o && observed && source === 'watch' && olderThan(o.resourceVersion, observed.resourceVersion)) return;
    const changed = (o?.raw ?? '') !== (observed?.raw ?? '');
    if (o) {
      if (changed) observedAt = clock.now();
      observed = o;
    } else {
      observed = undefined;
    }
    const newHolder = o?.record.holderIdentity ?? '';
    if (newHolder !== holder) {
      holder = newHolder;
      log.info({ holder }, 'observed new leader');
      callbacks.onNewLeader?.(holder);
    }
    if (term && !term.signal.aborted && o && newHolder !== id)
      fence(`lease taken over by "${newHolder || '(released)'}"`);
    if (!term && watchOn) {
      clearTimeout(expiryTimer);
      if (!o || newHolder === '') wakeup.wake();
      else {
        // Wake exactly when the lease expires by our clock: no poll interval added to a failover.
        const expiresIn = observedAt + o.record.leaseDurationSeconds * 1000 - clock.now();
        expiryTimer = setTimeout(() => wakeup.wake(), Math.max(0, expiresIn) + 1);
      }
    }
  }

  function desired(acquireTime: string, transitions: number): LeaderElectionRecord {
    const now = microTime(clock.wall());
    return {
      holderIdentity: id,
      leaseDurationSeconds: Math.ceil(init.leaseDurationMs / 1000),
      acquireTime: acquireTime || now,
      renewTime: now,
      leaderTransitions: transitions,
    };
  }

  /** client-go's tryAcquireOrRenew. True when this replica holds the lease as of `sentAt`. */
  async function tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const sentAt = clock.now();
    let op: LeaseOp = 'get';
    try {
      // Fast path: the leader renews against its cached version without a GET.
      if (term && observed && observed.record.holderIdentity === id) {
        try {
          const o = await lock.update(
            desired(observed.record.acquireTime, observed.record.leaderTransitions),
            observed.resourceVersion,
            signal,
          );
          contact();
          note(o, 'write');
          lastRenewSentAt = sentAt;
          problems.succeeded();
          return true;
        } catch (err) {
          if (signal.aborted) throw err;
          log.debug({ err }, 'optimistic renew failed; reading the lease');
        }
      }
      const cur = await lock.get(signal);
      contact();
      if (!cur) {
        op = 'create';
        const o = await lock.create(desired('', 0), signal);
        note(o, 'write');
        lastRenewSentAt = sentAt;
        problems.succeeded();
        return true;
      }
      note(cur, 'read');
      const rec = cur.record;
      const now = clock.now();
      if (
        rec.holderIdentity !== '' &&
        rec.holderIdentity !== id &&
        observedAt + rec.leaseDurationSeconds * 1000 > now
      ) {
        problems.succeeded();
        return false;
      }
      const mine = rec.holderIdentity === id;
      op = 'update';
      const o = await lock.update(
        desired(mine ? rec.acquireTime : '', mine ? rec.leaderTransitions : rec.leaderTransitions + 1),
        cur.resourceVersion,
        signal,
      );
      note(o, 'write');
      lastRenewSentAt = sentAt;
      problems.succeeded();
      return true;
    } catch (err) {
      if (!signal.aborted) problems.failed(err, op);
      return false;
    } finally {
      observer?.renewAttempt?.(clock.now() - sentAt, lastRenewSentAt === sentAt);
    }
  }

  async function watchLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const o of lock.watch(signal, () => {
          watchSynced = true;
          contact();
        })) {
          contact();
          note(o, 'watch');
        }
      } catch (err) {
        if (!signal.aborted) log.debug({ err }, 'lease watch ended; re-opening');
      }
      watchSynced = false;
      await sleep(WATCH_RETRY_MS, signal);
    }
  }

  async function acquire(signal: AbortSignal): Promise<boolean> {
    log.info({ identity: id }, 'attempting to acquire leader lease');
    while (!signal.aborted) {
      if (await tryAcquireOrRenew(signal)) return true;
      await wakeup.wait(init.retryPeriodMs * (1 + random() * JITTER_FACTOR), signal);
    }
    return false;
  }

  async function lead(signal: AbortSignal): Promise<string> {
    term = new AbortController();
    const t = term;
    armFence();
    log.info({ identity: id, transitions: observed?.record.leaderTransitions }, 'became leader');
    const work = Promise.resolve()
      .then(() => callbacks.onStartedLeading(t.signal))
      .catch((err) => log.error({ err }, 'leader work failed'));
    const both = AbortSignal.any([signal, t.signal]);
    while (!both.aborted) {
      await sleep(init.retryPeriodMs, both);
      if (both.aborted) break;
      const left = trustedUntil() - clock.now();
      if (left <= 0) {
        fence('renew deadline passed without a successful renew');
        break;
      }
      if (await tryAcquireOrRenew(AbortSignal.any([both, AbortSignal.timeout(Math.ceil(left))]))) armFence();
    }
    const reason = t.signal.aborted ? String((t.signal.reason as Error)?.message ?? 'lost') : 'shutdown';
    t.abort(new LeaseLostError(reason));
    clearTimeout(fenceTimer);
    // Leader work must stop before the lease is released; the guard already refuses its writes.
    const bound = new AbortController();
    await Promise.race([work, sleep(STOP_RUNNABLES_MAX_MS, bound.signal)]);
    bound.abort();
    return reason;
  }

  async function release(): Promise<void> {
    if (!observed || observed.record.holderIdentity !== id) return;
    // Safe even after our trusted window passed: the update is conditional on a resourceVersion at
    // which the Lease still names us, so it fails (409) if anyone else has written it since.
    const signal = AbortSignal.timeout(RELEASE_TIMEOUT_MS);
    const released = (o: Observed): LeaderElectionRecord => {
      const now = microTime(clock.wall());
      // client-go's release: empty holder, 1 s duration, so any participant acquires at once.
      return {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaderTransitions: o.record.leaderTransitions,
      };
    };
    try {
      try {
        note(await lock.update(released(observed), observed.resourceVersion, signal), 'write');
      } catch (err) {
        // A renew cancelled by the shutdown may still have landed and moved the version: re-read,
        // and release if the Lease still names us.
        if (!isStatus(err, 409)) throw err;
        const cur = await lock.get(signal);
        if (!cur || cur.record.holderIdentity !== id) return;
        note(await lock.update(released(cur), cur.resourceVersion, signal), 'write');
      }
      log.info('released leader lease');
    } catch (err) {
      log.warn({ err }, 'could not release the lease; it will expire');
    }
  }

  return {
    guard,
    isLeader: () => guard.valid(),
    status: () => ({
      leading: guard.valid(),
      holder,
      lastRenewAgeMs: lastRenewSentAt === undefined ? undefined : clock.now() - lastRenewSentAt,
      watchSynced,
      apiContactAgeMs: lastApiContact === undefined ? undefined : clock.now() - lastApiContact,
      problem: problems.current(),
    }),
    async run(signal) {
      const watching = watchOn ? watchLoop(signal) : Promise.resolve();
      while (!signal.aborted) {
        if (!(await acquire(signal))) break;
        const reason = await lead(signal);
        if (signal.aborted && (init.releaseOnCancel ?? true)) await release();
        term = undefined;
        lastRenewSentAt = undefined;
        log.info({ reason }, 'stopped leading');
        callbacks.onStoppedLeading(reason);
        // A re-read starts the next campaign from fresh observations.
        if (observed) note(observed, 'read');
      }
      clearTimeout(expiryTimer);
      clearTimeout(fenceTimer);
      await watching;
    },
  };
}
