/**
 * Fault schedules from a seed: the same seed, duration and targets give the same schedule, so a
 * failing run is replayed with `--seed`. Faults come one at a time (fault, hold, heal, gap): every
 * heal is part of the schedule, so a run ends with everything back and can be checked for
 * convergence.
 */

/** What can be done to a target. */
export type FaultKind =
  | 'kill9' // SIGKILL, then a restart after the hold
  | 'term' // SIGTERM (graceful stop), then a restart after the hold
  | 'pause' // SIGSTOP for the hold, then SIGCONT
  | 'restart' // SIGTERM and an immediate restart
  | 'cut' // the target's link dropped for the hold (netlab)
  | 'netem'; // delay and loss on the target's link for the hold (netlab)

export interface FaultTarget {
  name: string;
  /** `gm`, `lc`, `relay`, `mesh`, `apiserver`, `link`: a label for the summary. */
  role: string;
  faults: FaultKind[];
}

export interface Fault {
  /** Milliseconds after the run's start. */
  at: number;
  kind: FaultKind;
  target: string;
  role: string;
  /** How long the fault lasts before it is healed (ms). */
  holdMs: number;
  /** netem only. */
  delayMs?: number;
  lossPct?: number;
}

export interface ScheduleInit {
  seed: number;
  durationMs: number;
  targets: FaultTarget[];
  /** Hold range (ms). Default [500, 4000]: across the 2 s lease of the test replicas. */
  holdMs?: [number, number];
  /** Quiet time between one heal and the next fault (ms). Default [300, 2000]. */
  gapMs?: [number, number];
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (r: () => number, [lo, hi]: [number, number]) => Math.round(lo + r() * (hi - lo));

export function generateSchedule(init: ScheduleInit): Fault[] {
  if (!Number.isInteger(init.seed)) throw new RangeError(`seed must be an integer, got ${init.seed}`);
  const usable = init.targets.filter((t) => t.faults.length > 0);
  if (usable.length === 0) throw new RangeError('no target with faults');
  const r = prng(init.seed);
  const hold = init.holdMs ?? [500, 4000];
  const gap = init.gapMs ?? [300, 2000];
  const out: Fault[] = [];
  let at = between(r, gap);
  while (at < init.durationMs) {
    const target = usable[Math.floor(r() * usable.length)] as FaultTarget;
    const kind = target.faults[Math.floor(r() * target.faults.length)] as FaultKind;
    const holdMs = kind === 'restart' ? 0 : between(r, hold);
    const f: Fault = { at, kind, target: target.name, role: target.role, holdMs };
    if (kind === 'netem') {
      f.delayMs = between(r, [20, 300]);
      f.lossPct = between(r, [0, 20]);
    }
    out.push(f);
    at += holdMs + between(r, gap);
  }
  return out;
}
