/**
 * The LC store on SQLite through `node:sqlite` (built into Node 24; no native addon). WAL with
 * `synchronous=FULL`: a commit is on disk before `apply`/`enqueue` return, so an acked worker report
 * or an acked downstream frame survives a power cut.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Kind } from '../../common/wire/index.ts';
import { type LcStore, type OutboxEntry, type StoredObject, storeKey } from './types.ts';

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
`;

export interface SqliteStoreInit {
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
  const keys = db.prepare('SELECT kind, namespace, name FROM objects');
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
  const countOutbox = db.prepare('SELECT count(*) AS n FROM outbox');
  const removeReport = db.prepare('DELETE FROM outbox WHERE seq = ?');

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

  return {
    instance,
    position() {
      const stream = meta('stream');
      return { stream: stream === undefined || stream === '' ? null : stream, seq: Number(meta('seq') ?? 0) };
    },
    apply(ops, pos) {
      tx(() => {
        for (const o of ops) {
          if (o.op === 'upsert') upsert.run(o.kind, o.namespace, o.name, JSON.stringify(o.object));
          else if (o.op === 'delete') del.run(o.kind, o.namespace, o.name);
          else {
            for (const r of keys.all() as unknown as ObjectRow[]) {
              if (!o.keys.has(storeKey(r.kind, r.namespace, r.name))) del.run(r.kind, r.namespace, r.name);
            }
          }
        }
        setMeta.run('stream', pos.stream ?? '');
        setMeta.run('seq', String(pos.seq));
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
    enqueue(report) {
      return tx(() => {
        const seq = Number(meta('reportSeq') ?? 0) + 1;
        setMeta.run('reportSeq', String(seq));
        if (report.coalesce) coalesce.run(report.kind, report.namespace, report.name);
        insertReport.run(
          seq,
          report.kind,
          report.namespace,
          report.name,
          JSON.stringify(report.status),
          report.reportedAt,
          report.coalesce ? 1 : 0,
        );
        return { ...report, status: structuredClone(report.status), seq };
      });
    },
    outbox(limit) {
      return (readOutbox.all(limit) as unknown as OutboxRow[]).map(toEntry);
    },
    outboxSize() {
      return Number((countOutbox.get() as { n: number }).n);
    },
    remove(seq) {
      removeReport.run(seq);
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
