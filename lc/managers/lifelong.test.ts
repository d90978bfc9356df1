import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLifelongManager } from './lifelong.ts';
import { cond, fakeClock, fakeCtx, samples } from './stagejob-testing.ts';

const NS = 'ns1';

test('LifelongLearningJob: train input without models, eval with the knowledge base, deploy copies index.pkl', () => {
  const ctx = fakeCtx();
  ctx.put('dataset', NS, { metadata: { name: 'ds' }, spec: { url: '/data/d.csv', format: 'csv', nodeName: 'edge-1' } });
  ctx.writeLines('/data/d.csv', ['path,label', ...samples(0, 10)]);
  ctx.writeLines('/output/train/1/index.pkl', ['kb-1']);
  const job = {
    metadata: { name: 'll' },
    spec: {
      dataset: { name: 'ds', trainProb: 0.5 },
      trainSpec: { template: {}, trigger: { condition: { operator: '>', threshold: 4, metric: 'num_of_samples' } } },
      evalSpec: { template: {} },
      deploySpec: { template: {} },
      outputDir: '/output/',
    },
  };
  const m = createLifelongManager(ctx, { clock: fakeClock() });
  const put = (conditions: unknown[]) =>
    m.insert(ctx.put('lifelonglearningjob', NS, { ...job, status: { conditions } }));

  put([cond('Train', 'Waiting')]);
  m.tick();
  assert.deepEqual(ctx.reports[0]?.status, {
    phase: 'train',
    status: 'ready',
    input: { dataURL: '/output/data/train/1/data.csv', outputDir: '/output/train/1' },
  });
  assert.equal(ctx.reports[0]?.kind, 'LifelongLearningJob');
  const written = readFileSync(join(ctx.rootfs, '/output/data/train/1/data.csv'), 'utf8').trim().split('\n');
  assert.deepEqual(written, ['path,label', ...samples(0, 5)], 'csv keeps its header');

  const kb = { output: { models: [{ format: 'pkl', url: '/output/train/1/index.pkl' }] } };
  const trainDone = [cond('Train', 'Waiting'), cond('Train', 'Ready'), cond('Train', 'Completed', kb)];
  put([...trainDone, cond('Eval', 'Waiting')]);
  m.tick();
  assert.deepEqual(ctx.reports[1]?.status, {
    phase: 'eval',
    status: 'ready',
    input: {
      models: [{ format: 'pkl', url: '/output/train/1/index.pkl' }],
      dataURL: '/output/data/eval/1/data.csv',
      outputDir: '/output/eval/1',
    },
  });

  put([
    ...trainDone,
    cond('Eval', 'Waiting'),
    cond('Eval', 'Ready'),
    cond('Eval', 'Completed', kb),
    cond('Deploy', 'Waiting'),
  ]);
  m.tick();
  assert.deepEqual(ctx.reports[2]?.status, {
    phase: 'deploy',
    status: 'ready',
    input: { models: [{ format: 'pkl', url: '/output/train/1/index.pkl' }] },
  });
  assert.equal(readFileSync(join(ctx.rootfs, '/output/deploy/index.pkl'), 'utf8'), 'kb-1\n');

  // Eval reported no models: nothing to deploy.
  put([...trainDone, cond('Eval', 'Completed', { output: {} }), cond('Deploy', 'Waiting')]);
  m.tick();
  assert.deepEqual(ctx.reports[3]?.status, { phase: 'deploy', status: 'completed' });
  m.close();
});

test('Eval waits (no report) until the train worker reported its output', () => {
  const ctx = fakeCtx();
  ctx.put('dataset', NS, { metadata: { name: 'ds' }, spec: { url: '/data/d.txt', format: 'txt' } });
  ctx.writeLines('/data/d.txt', samples(0, 4));
  const job = {
    metadata: { name: 'll' },
    spec: {
      dataset: { name: 'ds', trainProb: 0.5 },
      trainSpec: { template: {}, trigger: { condition: { operator: '>', threshold: 100, metric: 'num_of_samples' } } },
      evalSpec: { template: {} },
      deploySpec: { template: {} },
      outputDir: '/output',
    },
    status: { conditions: [cond('Train', 'Completed'), cond('Eval', 'Waiting')] },
  };
  const m = createLifelongManager(ctx, { clock: fakeClock() });
  m.insert(ctx.put('lifelonglearningjob', NS, job));
  m.tick();
  m.tick();
  assert.deepEqual(ctx.reports, []);
  m.close();
});
