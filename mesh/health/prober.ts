/**
 * The prober: every period, probes every other member of the node's zone (with a deadline) through
 * an injected `probe` (the mesh ping, a TCP dial), keeps each neighbour's verdict and last success,
 * and produces the node's signed view for publication.
 *
 * Verdicts follow Kubernetes probe semantics: one success makes a neighbour healthy; it turns
 * unhealthy after `failureThreshold` consecutive failures (a timeout or a thrown error is a
 * failure); a neighbour with neither yet (just joined, first probes failing) is left out of the
 * view — it abstains rather than guess.
 */
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from '../../common/log.ts';
import { MAX_CONCURRENT_PROBES } from './constants.ts';
import { type HealthView, type SignedView, signView, type Verdict } from './view.ts';
import type { Zone } from './zones.ts';

/** Time as the prober sees it; injected so tests drive periods and timeouts without waiting. */
export interface HealthClock {
  /** Monotonic ms (periods, deadlines). */
  now(): number;
  /** Wall-clock ms (view time, lastOkAt). */
  wall(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemHealthClock: HealthClock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

/** The timing the prober uses; can change at runtime (`reconfigure`). */
export interface ProbeTiming {
  /** Probe period, ms. */
  periodMs: number;
  /** Deadline of one probe, ms (< periodMs). */
  timeoutMs: number;
  /** Consecutive failures before a neighbour is unhealthy. */
  failureThreshold: number;
}

export interface ProberInit {
  /** This node's name (the voter). */
  self: string;
  /** This node's peer ID (the one `key` belongs to, pinned for `self` in the directory). */
  peerId: string;
  /** This incarnation's epoch: the caller persists it and passes a larger one at every start. */
  epoch: number;
  timing: ProbeTiming;
}

export interface ProberComponents {
  /** The node's mesh identity key (mesh/records/identity.ts). */
  key: PrivateKey;
  /** This node's current zone (labels may change between periods). */
  zone(): Zone;
  /** Probes one neighbour; true when it answered. Must honour `signal` (aborted at the deadline). */
  probe(node: string, signal: AbortSignal): Promise<boolean>;
  /** Hands a signed view to whoever distributes it. Errors are logged; the next period retries. */
  publish(view: SignedView, signal: AbortSignal): void | Promise<void>;
  clock?: HealthClock;
  log?: Logger;
}

/** What the prober knows of one neighbour. */
export interface NeighbourState {
  /** Undefined until the first success or `failureThreshold` failures. */
  state: Verdict['state'] | undefined;
  /** Wall-clock ms of the last success; null if none yet. */
  lastOkAt: number | null;
  /** Consecutive failed probes. */
  failures: number;
}

export interface Prober {
  /** Probes and publishes every period until `signal` aborts; resolves once stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** One period's work: probe the zone, return the signed view (not published). */
  round(signal: AbortSignal): Promise<SignedView>;
  /** Current knowledge per neighbour (a copy). */
  neighbours(): Map<string, NeighbourState>;
  /** New timing from the next probe on. */
  reconfigure(timing: ProbeTiming): void;
}

export function createProber(init: ProberInit, c: ProberComponents): Prober {
  const clock = c.clock ?? systemHealthClock;
  const log = c.log?.child({ component: 'mesh.health' });
  let timing = init.timing;
  let seq = 0;
  const known = new Map<string, NeighbourState>();

  async function probeOnce(node: string, signal: AbortSignal): Promise<boolean> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const aborted = new Promise<false>((resolve) => ctl.signal.addEventListener('abort', () => resolve(false)));
    void clock.sleep(timing.timeoutMs, ctl.signal).then(() => {
      if (!ctl.signal.aborted) ctl.abort(new DOMException('probe deadline passed', 'TimeoutError'));
    });
    try {
      // A probe that ignores its signal still loses the race at the deadline.
      const probed = c.probe(node, ctl.signal).then(
        (ok) => ok === true,
        (err: unknown) => {
          log?.debug({ err, node }, 'probe failed');
          return false;
        },
      );
      return await Promise.race([probed, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      ctl.abort();
    }
  }

  function record(node: string, ok: boolean): void {
    const prev = known.get(node) ?? { state: undefined, lastOkAt: null, failures: 0 };
    if (ok) known.set(node, { state: 'healthy', lastOkAt: clock.wall(), failures: 0 });
    else {
      const failures = prev.failures + 1;
      const state = failures >= timing.failureThreshold ? 'unhealthy' : prev.state;
      if (state !== prev.state) log?.info({ node, failures }, 'neighbour unhealthy');
      known.set(node, { ...prev, state, failures });
    }
  }

  async function round(signal: AbortSignal): Promise<SignedView> {
    const zone = c.zone();
    const others = zone.members.filter((m) => m !== init.self);
    for (const node of known.keys()) if (!zone.has(node) || node === init.self) known.delete(node);
    let next = 0;
    const worker = async () => {
      while (next < others.length && !signal.aborted) {
        const node = others[next++] as string;
        const ok = await probeOnce(node, signal);
        if (!signal.aborted) record(node, ok);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_PROBES, others.length) }, worker));
    const verdicts: HealthView['verdicts'] = {};
    for (const node of others) {
      const k = known.get(node);
      if (k?.state !== undefined) verdicts[node] = { state: k.state, lastOkAt: k.lastOkAt };
    }
    const view: HealthView = {
      v: 1,
      voter: init.self,
      peerId: init.peerId,
      epoch: init.epoch,
      seq: seq++,
      time: clock.wall(),
      zone: zone.id,
      verdicts,
    };
    return signView(view, c.key);
  }

  return {
    async start(signal) {
      while (!signal.aborted) {
        const started = clock.now();
        try {
          const signed = await round(signal);
          if (!signal.aborted) await c.publish(signed, signal);
        } catch (err) {
          log?.warn({ err }, 'health round failed');
        }
        await clock.sleep(Math.max(0, timing.periodMs - (clock.now() - started)), signal);
      }
    },
    round,
    neighbours: () => new Map([...known].map(([k, v]) => [k, { ...v }])),
    reconfigure(t) {
      timing = t;
    },
  };
}
