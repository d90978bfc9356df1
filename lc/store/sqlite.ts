/**
 * The LC store on SQLite through `node:sqlite` (built into Node 24; no native addon). WAL with
 * `synchronous=FULL`: a commit is on disk before `apply`/`enqueue` return, so an acked worker report
 * or an acked downstream frame survives a power cut. The outbox's size is counted at open and kept
 * in memory (one process owns the file), so the limits cost no scan per report.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Kind } from '../../common/wire/index.ts';
import { DEAD_LETTER_STATUS_BYTES, MAX_DEAD_LETTERS } from '../constants.ts';
import { checkOutboxLimits, statusBytes } from './limits.ts';
import {
  type AppliedOp,
  type DeadLetter,
  type DeadLetterCause,
  type LcStore,
  type OutboxEntry,
  type StoredObject,
  type StoreOptions,
  storeKey,
} from './types.ts';
import { isNewer, isStale, laterOf, MAX_TOMBSTONES, versionOf } from './version.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
) STRICT;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, reported_at TEXT NOT NULL, coalesce INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS outbox_key ON outbox (kind, namespace, name);
CREATE TABLE IF NOT EXISTS tombstones (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv TEXT NOT NULL,
  UNIQUE (kind, namespace, name)
) STRICT;
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  reported_at TEXT NOT NULL, bytes INTEGER NOT NULL, status TEXT, cause TEXT NOT NULL, code TEXT NOT NULL,
  reason TEXT NOT NULL, dead_lettered_at TEXT NOT NULL
) STRICT;
`;

export interface SqliteStoreInit extends StoreOptions {
  /** Database file; its directory is created if missing. */
  path: string;
  /** `FULL` (default): fsync on every commit. `NORMAL` trades the last commits on power loss for speed. */
  synchronous?: 'FULL' | 'NORMAL';
}

interface ObjectRow {
  kind: string;
  namespace: string;
  name: string;
  body: string;
}
interface OutboxRow {
  seq: number;
  kind: string;
  namespace: string;
  name: string;
  status: string;
  reported_at: string;
  coalesce: number;
}
interface DeadRow {
  seq: number;
  kind: string;
  namespace: string;
  name: string;
  reported_at: string;
  bytes: number;
  status: string | null;
  cause: string;
  code: string;
  reason: string;
  dead_lettered_at: string;
}

export function openSqliteStore(init: SqliteStoreInit): LcStore {
  mkdirSync(dirname(init.path), { recursive: true });
  const db = new DatabaseSync(init.path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${init.synchronous ?? 'FULL'}`);
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec(SCHEMA);

  const getMeta = db.prepare('SELECT v FROM meta WHERE k = ?');
  const setMeta = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
  const meta = (k: string) => (getMeta.get(k) as { v: string } | undefined)?.v;
  let instance = meta('instance');
  if (instance === undefined) {
    instance = randomUUID();
    setMeta.run('instance', instance);
  }

  const upsert = db.prepare(
    'INSERT INTO objects (kind, namespace, name, body) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (kind, namespace, name) DO UPDATE SET body = excluded.body',
  );
  const del = db.prepare('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?');
  const keysRv = db.prepare(
    "SELECT kind, namespace, name, json_extract(body, '$.metadata.resourceVersion') AS rv FROM objects",
  );
  const getTomb = db.prepare('SELECT rv FROM tombstones WHERE kind = ? AND namespace = ? AND name = ?');
  const delTomb = db.prepare('DELETE FROM tombstones WHERE kind = ? AND namespace = ? AND name = ?');
  const putTomb = db.prepare('INSERT INTO tombstones (kind, namespace, name, rv) VALUES (?, ?, ?, ?)');
  const countTombs = db.prepare('SELECT count(*) AS n FROM tombstones');
  const trimTombs = db.prepare(
    'DELETE FROM tombstones WHERE id NOT IN (SELECT id FROM tombstones ORDER BY id DESC LIMIT ?)',
  );
  const keysRvOfKind = db.prepare(
    "SELECT kind, namespace, name, json_extract(body, '$.metadata.resourceVersion') AS rv FROM objects WHERE kind = ?",
  );
  // The stored version, read from the body: no column to migrate in existing stores.
  const heldVersion = db.prepare(
    "SELECT json_extract(body, '$.metadata.resourceVersion') AS rv FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
  );
  const getObj = db.prepare(
    'SELECT kind, namespace, name, body FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
  );
  const listAll = db.prepare('SELECT kind, namespace, name, body FROM objects ORDER BY kind, namespace, name');
  const listKind = db.prepare(
    'SELECT kind, namespace, name, body FROM objects WHERE kind = ? ORDER BY kind, namespace, name',
  );
  const insertReport = db.prepare(
    'INSERT INTO outbox (seq, kind, namespace, name, status, reported_at, coalesce) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const coalesce = db.prepare('DELETE FROM outbox WHERE coalesce = 1 AND kind = ? AND namespace = ? AND name = ?');
  const readOutbox = db.prepare('SELECT * FROM outbox ORDER BY seq LIMIT ?');
  const removeReport = db.prepare('DELETE FROM outbox WHERE seq = ? RETURNING *');
  // Byte lengths of the stored UTF-8 text, as statusBytes counts them.
  const usage = db.prepare('SELECT count(*) AS n, coalesce(sum(length(CAST(status AS BLOB))), 0) AS b FROM outbox');
  const coalesced = db.prepare(
    'SELECT count(*) AS n, coalesce(sum(length(CAST(status AS BLOB))), 0) AS b FROM outbox ' +
      'WHERE coalesce = 1 AND kind = ? AND namespace = ? AND name = ?',
  );
  const countObject = db.prepare('SELECT count(*) AS n FROM outbox WHERE kind = ? AND namespace = ? AND name = ?');
  const insertDead = db.prepare(
    'INSERT INTO dead_letters (seq, kind, namespace, name, reported_at, bytes, status, cause, code, reason, ' +
      'dead_lettered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const trimDead = db.prepare('DELETE FROM dead_letters WHERE id <= ?');
  const readDead = db.prepare('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?');
  const countDead = db.prepare('SELECT count(*) AS n FROM dead_letters');
  const maxDeadLetters = init.maxDeadLetters ?? MAX_DEAD_LETTERS;
  const counted = usage.get() as { n: number; b: number };
  let outboxReports = Number(counted.n);
  let outboxBytes = Number(counted.b);
  let deadLetters = Number((countDead.get() as { n: number }).n);

  const tx = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };
  const toObject = (r: ObjectRow): StoredObject => ({
    kind: r.kind as Kind,
    namespace: r.namespace,
    name: r.name,
    object: JSON.parse(r.body) as Record<string, unknown>,
  });
  const toEntry = (r: OutboxRow): OutboxEntry => ({
    seq: r.seq,
    kind: r.kind as Kind,
    namespace: r.namespace,
    name: r.name,
    status: JSON.parse(r.status) as Record<string, unknown>,
    reportedAt: r.reported_at,
    coalesce: r.coalesce === 1,
  });

  const toDead = (r: DeadRow): DeadLetter => ({
    seq: r.seq,
    kind: r.kind as Kind,
    namespace: r.namespace,
    name: r.name,
    reportedAt: r.reported_at,
    bytes: r.bytes,
    status: r.status,
    cause: r.cause as DeadLetterCause,
    code: r.code,
    reason: r.reason,
    deadLetteredAt: r.dead_lettered_at,
  });
  const forget = (r: OutboxRow) => {
    outboxReports--;
    outboxBytes -= statusBytes(r.status);
  };

  return {
    instance,
    position() {
      const stream = meta('stream');
      return { stream: stream === undefined || stream === '' ? null : stream, seq: Number(meta('seq') ?? 0) };
    },
    apply(ops, pos) {
      return tx(() => {
        const done: AppliedOp[] = [];
        let buried = false;
        // null: no such object; else its version (undefined when it has none).
        const held = (kind: string, namespace: string, name: string) => {
          const r = heldVersion.get(kind, namespace, name) as { rv: unknown } | undefined;
          return r === undefined ? null : { rv: r.rv === null ? undefined : String(r.rv) };
        };
        const tombOf = (kind: string, namespace: string, name: string) =>
          (getTomb.get(kind, namespace, name) as { rv: string } | undefined)?.rv;
        const bury = (kind: string, namespace: string, name: string, rv: string | undefined) => {
          const at = laterOf(tombOf(kind, namespace, name), rv);
          if (at === undefined || !/^[0-9]+$/.test(at)) return;
          delTomb.run(kind, namespace, name); // re-inserted last: the most recent delete
          putTomb.run(kind, namespace, name, at);
          buried = true;
        };
        const drop = (kind: Kind, namespace: string, name: string, rv: string | undefined) => {
          del.run(kind, namespace, name);
          bury(kind, namespace, name, rv);
          done.push({ op: 'delete', kind, namespace, name });
        };
        for (const o of ops) {
          if (o.op === 'upsert') {
            const body = JSON.stringify(o.object);
            const rv = versionOf(o.object);
            const h = held(o.kind, o.namespace, o.name);
            if (isStale(rv, h?.rv)) continue;
            const tomb = h === null ? tombOf(o.kind, o.namespace, o.name) : undefined;
            if (tomb !== undefined && rv !== undefined && isNewer(tomb, rv)) continue;
            upsert.run(o.kind, o.namespace, o.name, body);
            if (tomb !== undefined) delTomb.run(o.kind, o.namespace, o.name);
            done.push({ ...o, object: JSON.parse(body) as Record<string, unknown> });
          } else if (o.op === 'delete') {
            const h = held(o.kind, o.namespace, o.name);
            if (h === null) {
              bury(o.kind, o.namespace, o.name, o.resourceVersion);
              continue;
            }
            if (o.resourceVersion !== undefined && isNewer(h.rv, o.resourceVersion)) continue;
            drop(o.kind, o.namespace, o.name, laterOf(h.rv, o.resourceVersion));
          } else {
            const rows = (o.kind === undefined ? keysRv.all() : keysRvOfKind.all(o.kind)) as unknown as Array<
              ObjectRow & { rv: unknown }
            >;
            for (const r of rows) {
              if (o.keys.has(storeKey(r.kind, r.namespace, r.name))) continue;
              drop(r.kind as Kind, r.namespace, r.name, r.rv === null ? undefined : String(r.rv));
            }
          }
        }
        if (buried && Number((countTombs.get() as { n: number }).n) > MAX_TOMBSTONES) trimTombs.run(MAX_TOMBSTONES);
        setMeta.run('stream', pos.stream ?? '');
        setMeta.run('seq', String(pos.seq));
        return done;
      });
    },
    getObject(kind, namespace, name) {
      const r = getObj.get(kind, namespace, name) as ObjectRow | undefined;
      return r && toObject(r);
    },
    listObjects(kind) {
      const rows = (kind === undefined ? listAll.all() : listKind.all(kind)) as unknown as ObjectRow[];
      return rows.map(toObject);
    },
    enqueue(report, limits) {
      const json = JSON.stringify(report.status);
      const bytes = statusBytes(json);
      const { kind, namespace, name } = report;
      const out = tx(() => {
        const replaced = report.coalesce
          ? (coalesced.get(kind, namespace, name) as { n: number; b: number })
          : { n: 0, b: 0 };
        if (limits) {
          const mine = Number((countObject.get(kind, namespace, name) as { n: number }).n);
          checkOutboxLimits(
            limits,
            {
              reports: outboxReports - Number(replaced.n) + 1,
              bytes: outboxBytes - Number(replaced.b) + bytes,
              objectReports: mine - Number(replaced.n) + 1,
            },
            `${kind} ${namespace}/${name}`,
          );
        }
        const seq = Number(meta('reportSeq') ?? 0) + 1;
        setMeta.run('reportSeq', String(seq));
        if (report.coalesce) coalesce.run(kind, namespace, name);
        insertReport.run(seq, kind, namespace, name, json, report.reportedAt, report.coalesce ? 1 : 0);
        return { seq, replaced };
      });
      // Counters move only once the transaction committed.
      outboxReports += 1 - Number(out.replaced.n);
      outboxBytes += bytes - Number(out.replaced.b);
      return { ...report, status: JSON.parse(json) as Record<string, unknown>, seq: out.seq };
    },
    outbox(limit) {
      return (readOutbox.all(limit) as unknown as OutboxRow[]).map(toEntry);
    },
    outboxSize: () => outboxReports,
    outboxBytes: () => outboxBytes,
    remove(seq) {
      const gone = removeReport.get(seq) as OutboxRow | undefined;
      if (gone) forget(gone);
    },
    deadLetter(seq, why) {
      const at = new Date().toISOString();
      const moved = tx(() => {
        const r = removeReport.get(seq) as OutboxRow | undefined;
        if (!r) return undefined;
        const bytes = statusBytes(r.status);
        const kept = bytes <= DEAD_LETTER_STATUS_BYTES ? r.status : null;
        const row = [
          r.seq,
          r.kind,
          r.namespace,
          r.name,
          r.reported_at,
          bytes,
          kept,
          why.cause,
          why.code,
          why.reason,
          at,
        ];
        const id = Number(insertDead.run(...row).lastInsertRowid);
        // Ids only grow (trimming removes the oldest), so everything below the newest N is older.
        const trimmed = Number(trimDead.run(id - maxDeadLetters).changes);
        return { r, bytes, kept, trimmed };
      });
      if (!moved) return undefined;
      forget(moved.r);
      deadLetters += 1 - moved.trimmed;
      const { r } = moved;
      return {
        seq: r.seq,
        kind: r.kind as Kind,
        namespace: r.namespace,
        name: r.name,
        reportedAt: r.reported_at,
        bytes: moved.bytes,
        status: moved.kept,
        ...why,
        deadLetteredAt: at,
      };
    },
    deadLetters(limit) {
      return (readDead.all(Math.max(0, limit)) as unknown as DeadRow[]).map(toDead);
    },
    deadLetterCount: () => deadLetters,
    close() {
      if (db.isOpen) db.close();
    },
  };
}
