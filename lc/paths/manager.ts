/**
 * The path manager: which way the LC reaches the cloud. GM paths in order of preference (`direct`:
 * the configured URLs; `mesh`: the node mesh agent's local forward to any GM replica), then the
 * fallback (list-watch through the edge API) while no GM path is up.
 *
 * Rules (docs/lc.md, "Paths"):
 * - A path is tried only when every better path is down; its URLs are dialled in turn, each failed
 *   dial moving to the next URL at once; a dial unanswered for a second lets the next path try too.
 *   When every URL failed, or a session on it went silent (the LC heartbeat), the path is down and
 *   the next one is tried at once.
 * - While a worse path (or the fallback) is active, each better path is probed with a real upgrade
 *   carrying the LC's credential, waiting 70–90 % of the probe period between probes (a probe has
 *   1 s to answer, so a return takes at most the period plus 1 s); the probe's socket becomes the
 *   session, the worse session is closed first; the fallback is stopped only at its welcome.
 * - A GM's verdict (a close after the welcome, a refusal) is not a path failure: the same path
 *   retries after its own backoff (≥ 5 s after 4401/4403); a connection that lasted and was ended by
 *   1001/1006 (a replica went away) retries the next URL at once.
 * - The fallback runs only while no GM session is up and every GM path is down; it is stopped (its
 *   signal aborted, awaited) when a GM session's peer welcomes, before anything of it is applied —
 *   not at the upgrade, since something that upgrades may be no GM (it leaves the fallback running).
 */
import { sleep } from '../../common/async.ts';
import { CLOSE } from '../../common/wire/index.ts';
import { type Backoff, createBackoff } from '../backoff.ts';
import {
  AUTH_RETRY_MS,
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  PATH_DIAL_GRACE_MS,
  PATH_PROBE_PERIOD_MS,
  PATH_PROBE_TIMEOUT_MS,
} from '../constants.ts';
import type { Ended, Opened } from '../link.ts';
import type {
  ActivePath,
  GmPathName,
  PathManager,
  PathManagerComponents,
  PathManagerInit,
  PathStatus,
} from './types.ts';

interface PathState {
  name: GmPathName;
  rank: number;
  urls: string[];
  cursor: number;
  backoff: Backoff;
  /** Its last attempt failed or its session went silent; undefined: not tried yet, or up. */
  down: boolean;
}

interface Active {
  rank: number;
  stop(): void;
  ended: Promise<unknown>;
  /** The fallback: its run has ended. */
  over?: boolean;
  /** A GM session before its welcome: the fallback it will stop at the welcome, still running. */
  holds?(): Active | undefined;
}

export function createPathManager(init: PathManagerInit, components: PathManagerComponents): PathManager {
  const { link, fallback } = components;
  const log = components.log.child({ component: 'lc.paths' });
  const random = components.random ?? Math.random;
  const wait = components.sleep ?? sleep;
  const probeMs = init.probePeriodMs ?? PATH_PROBE_PERIOD_MS;
  const multi = init.paths.length > 1 || fallback !== undefined;
  const dialGraceMs = init.dialGraceMs ?? PATH_DIAL_GRACE_MS;
  const probeTimeoutMs = init.probeTimeoutMs ?? PATH_PROBE_TIMEOUT_MS;
  const paths: PathState[] = init.paths.map((p, rank) => ({
    name: p.name,
    rank,
    urls: p.urls,
    cursor: Math.floor(random() * p.urls.length),
    backoff: createBackoff({
      minMs: init.backoffMinMs ?? BACKOFF_MIN_MS,
      maxMs: init.backoffMaxMs ?? BACKOFF_MAX_MS,
      random,
    }),
    down: false,
  }));
  const fallbackRank = paths.length;
  let active: Active | undefined;
  let current: ActivePath = 'none';
  let last: ActivePath = 'none';
  let since = Date.now();
  let switches = 0;
  let waiters: Array<() => void> = [];
  let lock: Promise<unknown> = Promise.resolve();

  function notify() {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  }
  async function until(pred: () => boolean, signal: AbortSignal) {
    while (!signal.aborted && !pred()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
  function serialized<T>(f: () => Promise<T>): Promise<T> {
    const r = lock.then(f);
    lock = r.catch(() => undefined);
    return r;
  }

  function setPath(to: ActivePath, reason: string) {
    if (to === current) return;
    const from = current;
    current = to;
    since = Date.now();
    if (to === 'none') {
      log.warn({ path: from, reason }, 'path lost');
    } else {
      const switched = last !== 'none' && last !== to;
      if (switched) switches++;
      log.info({ path: to, from: last, reason }, switched ? 'path switched' : 'path active');
      if (switched) components.switched?.(last, to);
      last = to;
    }
    components.changed?.(from, to);
  }

  const eligible = (p: PathState) =>
    !(active && active.rank <= p.rank) && paths.every((q) => q.rank >= p.rank || q.down);
  const jitteredProbe = () => Math.round(probeMs * (0.7 + 0.2 * random()));
  const worseActive = (rank: number) => active !== undefined && active.rank > rank;

  /**
   * Stops whatever worse GM session is active, then starts the session, unless a better one is
   * active by now. An active fallback is stopped only once the session's peer answers as a GM (its
   * welcome), before anything of it is applied: a peer that upgrades and is no GM leaves it running.
   */
  async function adopt(p: PathState, opened: Opened, signal: AbortSignal) {
    let replaced = false;
    let fallbackActive: Active | undefined;
    let fallbackStopped = false;
    const me = await serialized(async () => {
      if (signal.aborted || (active && active.rank <= p.rank)) {
        opened.discard();
        return undefined;
      }
      while (active) {
        const prev = active;
        if (prev.rank === fallbackRank) {
          fallbackActive = prev;
          break;
        }
        // A worse session not yet welcomed hands over the fallback it would have stopped.
        const held = prev.holds?.();
        prev.stop();
        await prev.ended;
        if (active === prev) active = undefined;
        if (held) {
          fallbackActive = held;
          break;
        }
      }
      const fb = fallbackActive;
      const s = link.session(opened, signal, {
        beforeWelcome: fb
          ? async () => {
              fallbackStopped = true;
              fb.stop();
              await fb.ended;
            }
          : undefined,
        welcome: () => {
          p.down = false;
          setPath(p.name, `connected to ${opened.url}`);
          notify();
        },
      });
      const a: Active = {
        rank: p.rank,
        stop: () => {
          replaced = true;
          s.stop('a better path is up');
        },
        ended: s.ended,
        holds: () => (fb && !fallbackStopped && !fb.over ? fb : undefined),
      };
      active = a;
      notify();
      return a;
    });
    if (!me) return undefined;
    const e = (await me.ended) as Ended;
    if (active === me) {
      // Ended before its welcome: the fallback it was to replace still serves.
      if (fallbackActive && !fallbackStopped && !fallbackActive.over) active = fallbackActive;
      else {
        active = undefined;
        setPath('none', `closed ${e.code}${e.silent ? ' (silent)' : ''}`);
      }
    }
    notify();
    return { e, replaced };
  }

  /** How long path `p` waits after a session on it ended. */
  function afterSession(p: PathState, e: Ended): number {
    p.cursor++;
    if (e.silent || e.badPeer) {
      // Silent, or what answered is no GM (no welcome, or frames out of the protocol): the path is
      // down for the worse ones to try; it is probed again later.
      if (e.badPeer) log.warn({ path: p.name, code: e.code }, 'path answered without speaking as a gm');
      p.down = true;
      return multi ? jitteredProbe() : p.backoff.next();
    }
    if (e.stable) p.backoff.reset();
    const died = e.code === CLOSE.GOING_AWAY.code || e.code === 1006;
    if (e.stable && died) return 0; // a replica went away: the next URL at once
    let delay = p.backoff.next();
    if (multi) delay = Math.min(delay, probeMs);
    if (e.code === CLOSE.UNAUTHENTICATED.code || e.code === CLOSE.FORBIDDEN.code)
      delay = Math.max(AUTH_RETRY_MS, delay);
    return delay;
  }

  async function runPath(p: PathState, signal: AbortSignal) {
    while (!signal.aborted) {
      await until(() => eligible(p), signal);
      if (signal.aborted) return;
      let opened: Opened | undefined;
      for (let n = 0; n < p.urls.length && !signal.aborted && eligible(p); n++) {
        const url = p.urls[p.cursor % p.urls.length] as string;
        // A dial that hangs (packets dropped) lets the next path try meanwhile; if it opens later, it
        // is adopted as a probe would be.
        const grace = setTimeout(() => {
          if (!p.down) log.info({ path: p.name, endpoint: url }, 'path slow to answer, trying the next');
          p.down = true;
          notify();
        }, dialGraceMs);
        // With another path to go to, a dial must not hang past the probe timeout: a return (or the
        // next path) would wait for it. A lone path keeps the full handshake timeout.
        const r = await link.open(url, signal, multi ? { timeoutMs: probeTimeoutMs } : {});
        clearTimeout(grace);
        if ('ws' in r) {
          opened = r;
          break;
        }
        p.cursor++;
      }
      if (signal.aborted) {
        opened?.discard();
        return;
      }
      let delay: number;
      if (!opened) {
        if (!eligible(p)) continue; // a better path came up while dialling
        if (!p.down) log.info({ path: p.name }, 'path down');
        p.down = true;
        notify();
        delay = worseActive(p.rank) || (multi && !active) ? jitteredProbe() : p.backoff.next();
        if (multi) delay = Math.min(delay, probeMs);
      } else {
        const r = await adopt(p, opened, signal);
        if (!r || signal.aborted) continue;
        if (r.replaced) {
          p.cursor++;
          continue;
        }
        delay = afterSession(p, r.e);
        notify();
      }
      if (delay > 0) await wait(delay, signal);
    }
  }

  async function runFallback(signal: AbortSignal) {
    if (!fallback) return;
    const backoff = createBackoff({ minMs: BACKOFF_MIN_MS, maxMs: probeMs, random });
    while (!signal.aborted) {
      await until(() => !active && paths.every((p) => p.down), signal);
      if (signal.aborted) return;
      const ac = new AbortController();
      let stopped = false;
      const started = await serialized(async () => {
        if (active || !paths.every((p) => p.down)) return undefined;
        const run = fallback.run(AbortSignal.any([signal, ac.signal]));
        const me: Active = {
          rank: fallbackRank,
          stop: () => {
            stopped = true;
            ac.abort();
          },
          ended: run.catch(() => undefined),
        };
        active = me;
        setPath('fallback', 'no gm path is up');
        notify();
        return { me, run };
      });
      if (!started) continue;
      try {
        await started.run;
      } catch (err) {
        log.error({ err }, 'fallback failed');
      }
      started.me.over = true;
      if (active === started.me || (!stopped && current === 'fallback')) {
        // (the latter: ended on its own while a GM session not yet welcomed was to replace it)
        if (active === started.me) active = undefined;
        setPath('none', 'fallback ended');
      }
      notify();
      if (!stopped && !signal.aborted) await wait(backoff.next(), signal);
      else backoff.reset();
    }
  }

  return {
    status: (): PathStatus => ({
      path: current,
      since: new Date(since).toISOString(),
      switches,
      down: paths.filter((p) => p.down).map((p) => p.name),
    }),
    async start(signal) {
      await Promise.all([...paths.map((p) => runPath(p, signal)), runFallback(signal)]);
      await lock;
      await active?.ended;
    },
  };
}
