/**
 * What the incremental and lifelong learning managers must not forget across an LC restart, in
 * their own SQLite file (`<stateDir>/<kind>-triggers.db`; in memory without a stateDir):
 *
 * - per job, the samples bookkeeping Sedna keeps in memory (rounds, samples already split, the train
 *   samples waiting for the next round, the held-out eval batches);
 * - per job, every step the LC acted on (`Train@3`: the Train/Waiting condition at index 3), with
 *   the report it made. A step recorded here is never acted on again, so a restart never fires a
 *   trigger twice.
 *
 * The step is recorded (with its report and the new bookkeeping, one transaction) before the
 * report is handed to the LC's outbox, and marked enqueued after. A crash between the two leaves a
 * record not marked enqueued: it is enqueued again at start (`pending()`), so the report is never
 * lost; the window is two synchronous statements, so a duplicate needs a kill landing exactly there.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Sedna's JobConfig.DataSamples plus Rounds. */
export interface SamplesState {
  /** Train rounds fired so far (names the sample and output folders). */
  rounds: number;
  /** Samples of the dataset already split into train and eval (Sedna's PreviousNumbers). */
  consumed: number;
  /** Train samples waiting for the next round; `num_of_samples` is their count. */
  train: string[];
  /** Held-out batches, the newest last; the eval data is all of them. */
  evalVersions: string[][];
}

export const emptyState = (): SamplesState => ({ rounds: 0, consumed: 0, train: [], evalVersions: [] });

/** A step acted on, with the report it made (null when it reports nothing, e.g. a hot update). */
export interface StepRecord {
  job: string;
  step: string;
  report: Record<string, unknown> | null;
  reportedAt: string;
}

export interface TriggerStore {
  state(job: string): SamplesState;
  saveState(job: string, s: SamplesState): void;
  /** Whether `step` of `job` was acted on. */
  done(job: string, step: string): boolean;
  /** Records `step` with its report and the bookkeeping after it, atomically; not yet enqueued. */
  record(rec: StepRecord, s: SamplesState): void;
  /** Marks the step's report as handed to the outbox. */
  enqueued(job: string, step: string): void;
  /** Undoes `record` (the outbox refused the report): the step will be tried again. */
  unrecord(job: string, step: string, previous: SamplesState): void;
  /** Steps recorded with a report that never reached the outbox (a crash in between). */
  pending(): StepRecord[];
  /** Forgets a deleted job. */
  forget(job: string): void;
  close(): void;
}

/** Opens (creating) the store `<stateDir>/<name>.db` (one file per manager: no lock contention), or in memory. */
export function openTriggerStore(stateDir: string | undefined, name: string): TriggerStore {
  let path = ':memory:';
  if (stateDir) {
    mkdirSync(stateDir, { recursive: true });
    path = join(stateDir, `${name}.db`);
  }
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS samples (job TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS steps (
      job TEXT NOT NULL, step TEXT NOT NULL, report TEXT, reported_at TEXT NOT NULL,
      enqueued INTEGER NOT NULL, PRIMARY KEY (job, step));
  `);
  const getState = db.prepare('SELECT state FROM samples WHERE job = ?');
  const putState = db.prepare('INSERT OR REPLACE INTO samples (job, state) VALUES (?, ?)');
  const getStep = db.prepare('SELECT 1 AS one FROM steps WHERE job = ? AND step = ?');
  const putStep = db.prepare(
    'INSERT OR REPLACE INTO steps (job, step, report, reported_at, enqueued) VALUES (?, ?, ?, ?, ?)',
  );
  const markStep = db.prepare('UPDATE steps SET enqueued = 1 WHERE job = ? AND step = ?');
  const delStep = db.prepare('DELETE FROM steps WHERE job = ? AND step = ?');
  const listPending = db.prepare(
    'SELECT job, step, report, reported_at FROM steps WHERE enqueued = 0 AND report IS NOT NULL ORDER BY rowid',
  );
  const delJobSteps = db.prepare('DELETE FROM steps WHERE job = ?');
  const delJobState = db.prepare('DELETE FROM samples WHERE job = ?');

  const tx = (fn: () => void) => {
    db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };

  return {
    state(job) {
      const row = getState.get(job) as { state: string } | undefined;
      return row ? (JSON.parse(row.state) as SamplesState) : emptyState();
    },
    saveState(job, s) {
      putState.run(job, JSON.stringify(s));
    },
    done(job, step) {
      return getStep.get(job, step) !== undefined;
    },
    record(rec, s) {
      tx(() => {
        putStep.run(rec.job, rec.step, rec.report ? JSON.stringify(rec.report) : null, rec.reportedAt, 0);
        putState.run(rec.job, JSON.stringify(s));
      });
    },
    enqueued(job, step) {
      markStep.run(job, step);
    },
    unrecord(job, step, previous) {
      tx(() => {
        delStep.run(job, step);
        putState.run(job, JSON.stringify(previous));
      });
    },
    pending() {
      return (listPending.all() as Array<{ job: string; step: string; report: string; reported_at: string }>).map(
        (r) => ({
          job: r.job,
          step: r.step,
          report: JSON.parse(r.report) as Record<string, unknown>,
          reportedAt: r.reported_at,
        }),
      );
    },
    forget(job) {
      tx(() => {
        delJobSteps.run(job);
        delJobState.run(job);
      });
    },
    close() {
      db.close();
    },
  };
}
