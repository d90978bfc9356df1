/**
 * An opt-in history of what a process did, for the chaos checker (test/chaos): when the environment
 * variable FEDMESH_HISTORY names a file, `recordHistory` appends one JSON line per event —
 * `{t, who, what, ...fields}` where `t` is CLOCK_MONOTONIC in microseconds (one clock for every
 * process on the machine, unaffected by wall-clock steps) and `who` is FEDMESH_HISTORY_WHO (default
 * the pid). Off by default: then every call is one boolean test. Writes are synchronous appends
 * (O_APPEND), so lines of concurrent processes never interleave and a kill -9 loses no earlier line.
 */
import { openSync, writeSync } from 'node:fs';

const file = process.env.FEDMESH_HISTORY;
const who = process.env.FEDMESH_HISTORY_WHO || String(process.pid);
let fd: number | undefined;

/** True when a history is being written. */
export const historyOn = file !== undefined && file !== '';

/** Monotonic microseconds (CLOCK_MONOTONIC), the history's time axis. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Appends an event to the history; a no-op unless FEDMESH_HISTORY is set. */
export function recordHistory(what: string, fields: Record<string, unknown> = {}): void {
  if (!historyOn) return;
  try {
    fd ??= openSync(file as string, 'a');
    writeSync(fd, `${JSON.stringify({ t: monotonicUs(), who, pid: process.pid, what, ...fields })}\n`);
  } catch (err) {
    // A history that cannot be written must not fail the component it observes.
    process.emitWarning(`history not written: ${(err as Error).message}`);
  }
}
