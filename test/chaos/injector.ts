/**
 * The fault injector: runs a schedule (schedule.ts) against actors — processes (GM replicas, LCs,
 * mesh agents and relays), the API server, netlab links — and writes every fault and heal to the
 * history. Product-free: actors are built from the test harnesses' handles.
 */
import { sleep } from '../../common/async.ts';
import type { ManagedProcess } from '../../common/process/index.ts';
import type { ControlPlane } from '../../controlplane/index.ts';
import type { Host } from '../../netlab/index.ts';
import type { HistoryWriter } from './history.ts';
import type { Fault } from './schedule.ts';

/** Something faults can be done to; process faults need kill/pause/start, link faults cut/shape. */
export interface Actor {
  name: string;
  role: string;
  /** Sends `sig` (SIGKILL or SIGTERM) and resolves once the process is gone. */
  kill?(sig: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  pause?(): void | Promise<void>;
  resume?(): void | Promise<void>;
  /** Starts it again (resolves once it serves). */
  start?(): Promise<void>;
  cut?(): Promise<void>;
  restore?(): Promise<void>;
  shape?(delayMs: number, lossPct: number): Promise<void>;
  unshape?(): Promise<void>;
}

/** An actor over a restartable process: `spawn` starts a fresh one and resolves once it serves. */
export function processActor(name: string, role: string, first: ManagedProcess, spawn: () => Promise<ManagedProcess>) {
  let proc = first;
  const actor: Actor & { proc(): ManagedProcess } = {
    name,
    role,
    proc: () => proc,
    async kill(sig) {
      if (sig === 'SIGKILL') proc.signal('SIGCONT'); // a paused process dies as well either way
      await proc.stop(sig, 10_000);
    },
    pause: () => proc.signal('SIGSTOP'),
    resume: () => proc.signal('SIGCONT'),
    async start() {
      proc = await spawn();
    },
  };
  return actor;
}

/** The API server: killed or stopped and started again on the same address; etcd keeps the data. */
export function apiServerActor(plane: ControlPlane): Actor {
  return {
    name: 'apiserver',
    role: 'apiserver',
    kill: (sig) => plane.stopApiServer(sig),
    start: () => plane.startApiServer(),
    pause: () => {
      process.kill(plane.state.apiserverPid, 'SIGSTOP');
    },
    resume: () => {
      process.kill(plane.state.apiserverPid, 'SIGCONT');
    },
  };
}

/** A netlab host's link on one segment: cut (carrier lost) or shaped (delay, loss). */
export function linkActor(name: string, host: Host, segment: string): Actor {
  return {
    name,
    role: 'link',
    cut: () => host.cutLink(segment),
    restore: () => host.restoreLink(segment),
    shape: (delayMs, lossPct) => host.shape(segment, { delayMs, lossPct }),
    unshape: () => host.shape(segment, {}),
  };
}

/**
 * Whichever actor `pick()` names when a fault starts (e.g. the current Lease holder); the heal goes
 * to the same one.
 */
export function delegateActor(name: string, role: string, pick: () => Promise<Actor>): Actor {
  let current: Actor | undefined;
  const now = async () => {
    current = await pick();
    return current;
  };
  const held = () => {
    if (!current) throw new Error(`${name}: no fault in progress`);
    return current;
  };
  return {
    name,
    role,
    kill: async (sig) => (await now()).kill?.(sig),
    start: async () => held().start?.(),
    pause: async () => (await now()).pause?.(),
    resume: () => held().resume?.(),
  };
}

export interface RunStats {
  /** Faults applied, by `role kind`. */
  applied: Record<string, number>;
  /** Faults that could not be applied or healed (with the error), by `role kind`. */
  errors: string[];
}

async function retry(what: string, fn: () => Promise<void>, signal: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 5 || signal.aborted) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(500 * attempt);
    }
  }
}

/** Applies one fault, holds it, heals it; never leaves the target down (a start is retried). */
export async function applyFault(f: Fault, a: Actor, history: HistoryWriter, signal: AbortSignal): Promise<void> {
  const need = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`${a.name} cannot ${what}`);
    return x;
  };
  history('fault', { ...f });
  const start = () => retry(`restart ${a.name}`, () => need(a.start, 'start')(), signal);
  switch (f.kind) {
    case 'kill9':
    case 'term':
      await need(a.kill, 'be killed')(f.kind === 'kill9' ? 'SIGKILL' : 'SIGTERM');
      await sleep(f.holdMs);
      await start();
      break;
    case 'restart':
      await need(a.kill, 'be killed')('SIGTERM');
      await start();
      break;
    case 'pause':
      await need(a.pause, 'pause')();
      await sleep(f.holdMs);
      await need(a.resume, 'resume')();
      break;
    case 'cut':
      await need(a.cut, 'be cut')();
      await sleep(f.holdMs);
      await need(a.restore, 'be restored')();
      break;
    case 'netem':
      await need(a.shape, 'be shaped')(f.delayMs ?? 0, f.lossPct ?? 0);
      await sleep(f.holdMs);
      await need(a.unshape, 'be unshaped')();
      break;
  }
  history('heal', { target: f.target, kind: f.kind });
}

/** Runs the schedule from now; resolves after the last heal (or when `signal` aborts). */
export async function runSchedule(
  schedule: Fault[],
  actors: Actor[],
  history: HistoryWriter,
  signal: AbortSignal,
): Promise<RunStats> {
  const byName = new Map(actors.map((a) => [a.name, a]));
  const stats: RunStats = { applied: {}, errors: [] };
  const t0 = performance.now();
  for (const f of schedule) {
    if (signal.aborted) break;
    const wait = f.at - (performance.now() - t0);
    if (wait > 0) await sleep(wait);
    const a = byName.get(f.target);
    const k = `${f.role} ${f.kind}`;
    if (!a) {
      stats.errors.push(`${k}: no actor ${f.target}`);
      continue;
    }
    try {
      await applyFault(f, a, history, signal);
      stats.applied[k] = (stats.applied[k] ?? 0) + 1;
    } catch (err) {
      stats.errors.push(`${k} on ${f.target}: ${(err as Error).message}`);
      history('fault.error', { target: f.target, kind: f.kind, error: (err as Error).message });
    }
  }
  return stats;
}
