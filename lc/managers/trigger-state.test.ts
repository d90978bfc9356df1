import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createIncrementalManager } from './incremental.ts';
import { cond, fakeClock, fakeCtx, helmet, samples } from './stagejob-testing.ts';
import { emptyState, openTriggerStore } from './trigger-state.ts';

const NS = 'ns1';

function stateDir(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-triggers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a fired trigger survives a restart: the same Waiting condition never fires twice', (t) => {
  const dir = stateDir(t);
  const ctx = fakeCtx(dir);
  const job = helmet(ctx, NS);
  ctx.writeLines('/data/index.txt', samples(0, 20));

  const first = createIncrementalManager(ctx, { clock: fakeClock() });
  first.insert(ctx.put('incrementallearningjob', NS, job));
  first.tick();
  assert.equal(ctx.reports.length, 1);
  first.close();

  // The LC restarts with the same stored job (no GM: still Train/Waiting at index 0).
  const clock = fakeClock();
  const second = createIncrementalManager(ctx, { clock });
  second.insert(ctx.put('incrementallearningjob', NS, job));
  second.tick();
  assert.equal(ctx.reports.length, 1, 'not fired again');

  // Its bookkeeping came back too: round 2 counts only samples that arrived after round 1.
  ctx.writeLines('/data/index.txt', samples(20, 10), true);
  const next = {
    ...job,
    status: { conditions: [cond('Train', 'Waiting'), cond('Train', 'Failed'), cond('Train', 'Waiting')] },
  };
  second.insert(ctx.put('incrementallearningjob', NS, next));
  clock.advance(60_000);
  second.tick();
  assert.equal(ctx.reports.length, 2);
  const input = ctx.reports[1]?.status.input as { dataURL: string; outputDir: string };
  assert.equal(input.dataURL, '/output/data/train/2/data.txt');
  assert.equal(input.outputDir, '/output/train/2');
  second.close();
});

test('a step recorded but not handed to the outbox (crash in between) is enqueued at start, once', async (t) => {
  const dir = stateDir(t);
  const store = openTriggerStore(dir, 'incrementallearningjob-triggers');
  const report = { phase: 'train', status: 'ready', input: { dataURL: '/output/data/train/1/data.txt' } };
  store.record(
    { job: `${NS}/incrementallearningjob/il`, step: 'Train@0', report, reportedAt: '2024-01-15T12:00:00.000Z' },
    { ...emptyState(), rounds: 1 },
  );
  store.close();

  const ctx = fakeCtx(dir);
  const job = helmet(ctx, NS);
  ctx.writeLines('/data/index.txt', samples(0, 20));
  const run = async () => {
    const m = createIncrementalManager(ctx, { clock: fakeClock() });
    m.insert(ctx.put('incrementallearningjob', NS, job));
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await done;
  };
  await run();
  assert.equal(ctx.reports.length, 1, 'the recorded report, not a second firing');
  assert.deepEqual(ctx.reports[0]?.status, report);
  assert.equal(ctx.reports[0]?.reportedAt, '2024-01-15T12:00:00.000Z');
  await run();
  assert.equal(ctx.reports.length, 1, 'enqueued once');
});

test('store: record, done, unrecord, forget', (t) => {
  const store = openTriggerStore(stateDir(t), 'x');
  const job = 'ns/incrementallearningjob/a';
  assert.equal(store.done(job, 'Train@0'), false);
  store.record({ job, step: 'Train@0', report: null, reportedAt: 'now' }, { ...emptyState(), rounds: 1 });
  assert.equal(store.done(job, 'Train@0'), true);
  assert.equal(store.state(job).rounds, 1);
  assert.deepEqual(store.pending(), [], 'a step without a report has nothing to enqueue');
  store.unrecord(job, 'Train@0', emptyState());
  assert.equal(store.done(job, 'Train@0'), false);
  assert.equal(store.state(job).rounds, 0);
  store.saveState(job, { ...emptyState(), consumed: 5 });
  store.forget(job);
  assert.deepEqual(store.state(job), emptyState());
  store.close();
});
