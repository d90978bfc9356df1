/**
 * The chaos history: JSON lines `{t, who, pid?, what, ...}` (t = CLOCK_MONOTONIC µs) written by the
 * components under test (common/history.ts, opt-in through FEDMESH_HISTORY) and by the harness
 * itself (faults, tunnel streams, what each LC should hold at the end) into one file.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { monotonicUs } from '../../common/history.ts';

export interface HistoryEvent {
  /** CLOCK_MONOTONIC in µs: one axis for every process on the machine. */
  t: number;
  who: string;
  pid?: number;
  what: string;
  [field: string]: unknown;
}

/** Parses a history file; a torn last line (a process killed mid-write) is skipped, anything else throws. */
export function readHistory(file: string): HistoryEvent[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: HistoryEvent[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      const e = JSON.parse(line) as HistoryEvent;
      if (typeof e.t !== 'number' || typeof e.what !== 'string') throw new Error('no t or what');
      out.push(e);
    } catch (err) {
      if (i < lines.length - 2) throw new Error(`history line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out.sort((a, b) => a.t - b.t);
}

/** The harness's own pen on the same file (faults, probes, expectations). */
export function historyWriter(file: string, who: string) {
  return (what: string, fields: Record<string, unknown> = {}) =>
    appendFileSync(file, `${JSON.stringify({ t: monotonicUs(), who, what, ...fields })}\n`);
}
export type HistoryWriter = ReturnType<typeof historyWriter>;
