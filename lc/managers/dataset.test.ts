import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { ReportRefusedError } from '../errors.ts';
import type { LcReport } from '../index.ts';
import type { StoredObject } from '../store/types.ts';
import { createDatasetManager } from './dataset.ts';
import type { ManagerContext } from './types.ts';

const HOUR = 3_600_000;

async function until(what: string, pred: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(t: TestContext, opts: { periodMs?: number; refuse?: () => boolean } = {}) {
  const rootfs = mkdtempSync(join(tmpdir(), 'fedmesh-rootfs-'));
  const reports: LcReport[] = [];
  const ctx: ManagerContext = {
    node: 'edge-1',
    rootfs,
    log: pino({ level: 'silent' }),
    report(r) {
      if (opts.refuse?.()) throw new ReportRefusedError('ERR_OUTBOX_FULL', 'full');
      reports.push(r);
    },
    get: () => undefined,
  };
  const m = createDatasetManager(ctx, { datasetPeriodMs: opts.periodMs ?? HOUR });
  const ac = new AbortController();
  const done = m.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await done;
    rmSync(rootfs, { recursive: true, force: true });
  });
  const counts = (name = 'ds') => reports.filter((r) => r.name === name).map((r) => r.status.numberOfSamples);
  return { m, rootfs, reports, counts, ac, done };
}

const ds = (name: string, url: string, extra: { format?: string; node?: string; samples?: number } = {}) =>
  ({
    kind: 'Dataset',
    namespace: 'ns',
    name,
    object: {
      metadata: { name, namespace: 'ns' },
      spec: { url, format: extra.format ?? 'txt', nodeName: extra.node ?? 'edge-1' },
      ...(extra.samples === undefined ? {} : { status: { numberOfSamples: extra.samples } }),
    },
  }) satisfies StoredObject;

function indexFile(rootfs: string, rel: string, text: string) {
  mkdirSync(join(rootfs, rel, '..'), { recursive: true });
  writeFileSync(join(rootfs, rel), text);
  return join(rootfs, rel);
}

test('dataset: the count is reported at insert, and an appended sample is seen through fs.watch (no period)', async (t) => {
  const { m, rootfs, reports, counts } = setup(t);
  const file = indexFile(rootfs, 'data/ds/index.txt', 'a\nb\nc\n');
  m.insert(ds('ds', '/data/ds/index.txt'));
  await until('the first count', () => counts().length === 1);
  assert.deepEqual(reports[0], { kind: 'Dataset', namespace: 'ns', name: 'ds', status: { numberOfSamples: 3 } });
  appendFileSync(file, 'd\n');
  await until('the new count', () => counts().length === 2);
  appendFileSync(file, 'e\nf\n');
  await until('the next count', () => counts().length === 3);
  assert.deepEqual(counts(), [3, 4, 6]);
  writeFileSync(join(rootfs, 'data/ds/other.txt'), 'x\n'); // another file in the directory: no report
  writeFileSync(file, 'a\nb\nc\nd\ne\nf\n'); // rewritten, same count: no report
  await sleep(300);
  assert.deepEqual(counts(), [3, 4, 6]);
});

test('dataset: an index replaced by rename is seen (the directory is watched)', async (t) => {
  const { m, rootfs, counts } = setup(t);
  indexFile(rootfs, 'd/index.txt', 'a\n');
  m.insert(ds('ds', '/d/index.txt'));
  await until('the first count', () => counts().length === 1);
  writeFileSync(join(rootfs, 'd/.tmp'), 'a\nb\n');
  const { renameSync } = await import('node:fs');
  renameSync(join(rootfs, 'd/.tmp'), join(rootfs, 'd/index.txt'));
  await until('the new count', () => counts().length === 2);
  assert.deepEqual(counts(), [1, 2]);
});

test('dataset: csv counts rows after the header; format is case-insensitive', async (t) => {
  const { m, rootfs, counts } = setup(t);
  indexFile(rootfs, 'c/index.csv', 'path,label\nx.jpg,1\ny.jpg,0\n');
  m.insert(ds('ds', '/c/index.csv', { format: 'CSV' }));
  await until('the count', () => counts().length === 1);
  assert.deepEqual(counts(), [2]);
});

test('dataset: a count equal to the status it arrived with is not reported again; a change is', async (t) => {
  const { m, rootfs, counts } = setup(t);
  const file = indexFile(rootfs, 'd/i.txt', 'a\nb\n');
  m.insert(ds('ds', '/d/i.txt', { samples: 2 }));
  await sleep(300);
  assert.deepEqual(counts(), []);
  appendFileSync(file, 'c\n');
  await until('the change', () => counts().length === 1);
  assert.deepEqual(counts(), [3]);
});

test("dataset: another node's Dataset is not monitored; a deleted one stops; a worker message is refused", async (t) => {
  const { m, rootfs, counts } = setup(t);
  indexFile(rootfs, 'o/i.txt', 'a\n');
  const file = indexFile(rootfs, 'd/i.txt', 'a\n');
  m.insert(ds('other', '/o/i.txt', { node: 'edge-2' }));
  m.insert(ds('ds', '/d/i.txt'));
  await until('the count', () => counts().length === 1);
  m.delete('ns', 'ds');
  appendFileSync(file, 'b\n');
  await sleep(300);
  assert.deepEqual([counts(), counts('other')], [[1], []]);
  const out = m.workerMessage({
    name: 'w',
    namespace: 'ns',
    ownerName: 'ds',
    ownerKind: 'dataset',
    kind: 'x',
    status: 'y',
  });
  assert.ok('refuse' in out && out.refuse.status === 400);
});

test('dataset: a file that appears later is found by the period; a changed spec.url is followed', async (t) => {
  const { m, rootfs, counts } = setup(t, { periodMs: 100 });
  m.insert(ds('ds', '/late/i.txt'));
  await sleep(250);
  assert.deepEqual(counts(), []);
  indexFile(rootfs, 'late/i.txt', 'a\nb\n');
  await until('the late file', () => counts().length === 1);
  indexFile(rootfs, 'moved/i.txt', 'a\nb\nc\n');
  m.insert(ds('ds', '/moved/i.txt'));
  await until('the new url', () => counts().length === 2);
  assert.deepEqual(counts(), [2, 3]);
});

test('dataset: a report the outbox refuses is tried again at the next check', async (t) => {
  let refuse = true;
  const { m, rootfs, counts } = setup(t, { periodMs: 100, refuse: () => refuse });
  indexFile(rootfs, 'd/i.txt', 'a\n');
  m.insert(ds('ds', '/d/i.txt'));
  await sleep(250);
  assert.deepEqual(counts(), []);
  refuse = false;
  await until('the retried report', () => counts().length === 1);
  assert.deepEqual(counts(), [1]);
});

test('dataset: objects inserted before start are monitored once it starts', async (t) => {
  const rootfs = mkdtempSync(join(tmpdir(), 'fedmesh-rootfs-'));
  t.after(() => rmSync(rootfs, { recursive: true, force: true }));
  indexFile(rootfs, 'd/i.txt', 'a\n');
  const reports: LcReport[] = [];
  const log = pino({ level: 'silent' });
  const m = createDatasetManager(
    { node: 'edge-1', rootfs, log, report: (r) => void reports.push(r), get: () => undefined },
    { datasetPeriodMs: HOUR },
  );
  m.insert(ds('ds', '/d/i.txt'));
  await sleep(100);
  assert.equal(reports.length, 0);
  const ac = new AbortController();
  const done = m.start(ac.signal);
  await until('the count', () => reports.length === 1);
  ac.abort();
  await done;
});
