import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createIncrementalManager } from './incremental.ts';
import { cond, type FakeCtx, fakeClock, fakeCtx, helmet, samples } from './stagejob-testing.ts';

const NS = 'ns1';
const read = (ctx: FakeCtx, p: string) => readFileSync(join(ctx.rootfs, p), 'utf8');
const statuses = (ctx: FakeCtx) =>
  ctx.reports.map((r) => `${(r.status as { phase: string }).phase}/${(r.status as { status: string }).status}`);

function setup(jobPatch: Record<string, unknown> = {}) {
  const ctx = fakeCtx();
  const clock = fakeClock();
  const job = helmet(ctx, NS, jobPatch);
  const m = createIncrementalManager(ctx, { clock });
  const put = (conditions: unknown[], annotations?: Record<string, string>) => {
    const o = {
      ...job,
      metadata: { ...job.metadata, ...(annotations ? { annotations } : {}) },
      status: { conditions },
    };
    m.insert(ctx.put('incrementallearningjob', NS, o));
  };
  return { ctx, clock, job, m, put };
}

test('Train/Waiting: fires once the train share of new samples satisfies the condition, with Sedna input', () => {
  const { ctx, clock, m, put } = setup();
  ctx.writeLines('/data/index.txt', samples(0, 5));
  put([cond('Train', 'Waiting')]);
  m.tick();
  assert.equal(ctx.reports.length, 0, '4 train samples (int(0.8 * 5)) < 8');

  ctx.writeLines('/data/index.txt', samples(5, 5), true);
  m.tick();
  assert.equal(ctx.reports.length, 0, 'the condition is looked at every checkPeriodSeconds only');
  clock.advance(59_000);
  m.tick();
  assert.equal(ctx.reports.length, 0);
  clock.advance(1000);
  m.tick();
  assert.equal(ctx.reports.length, 1);
  const r = ctx.reports[0];
  assert.equal(r?.kind, 'IncrementalLearningJob');
  assert.equal(r?.name, 'il');
  assert.deepEqual(r?.status, {
    phase: 'train',
    status: 'ready',
    input: {
      models: [{ format: 'ckpt', url: '/models/base/model.ckpt' }],
      dataURL: '/output/data/train/1/data.txt',
      outputDir: '/output/train/1',
    },
  });
  // 4 of the first 5 and 4 of the next 5.
  assert.deepEqual(read(ctx, '/output/data/train/1/data.txt').trim().split('\n'), [...samples(0, 4), ...samples(5, 4)]);

  // Still Train/Waiting at the same index (no GM yet): never again, whatever arrives.
  ctx.writeLines('/data/index.txt', samples(10, 50), true);
  clock.advance(120_000);
  m.tick();
  assert.equal(ctx.reports.length, 1);
  m.close();
});

test('timer: outside the window nothing fires; inside it does', () => {
  const { ctx, clock, m, put } = setup({
    trainSpec: {
      template: {},
      trigger: {
        checkPeriodSeconds: 1,
        timer: { start: '23:00', end: '01:00' },
        condition: { operator: '>', threshold: 1, metric: 'num_of_samples' },
      },
    },
  });
  ctx.writeLines('/data/index.txt', samples(0, 10));
  put([cond('Train', 'Waiting')]);
  m.tick();
  assert.equal(ctx.reports.length, 0, '12:00 is outside 23:00-01:00');
  clock.setWall(new Date(2024, 0, 16, 0, 30));
  clock.advance(1000);
  m.tick();
  assert.deepEqual(statuses(ctx), ['train/ready']);
  m.close();
});

test('Train -> Eval -> Deploy (no hot update): eval input, deploy trigger on metric deltas, model copied', () => {
  const { ctx, m, put } = setup();
  ctx.writeLines('/data/index.txt', samples(0, 20));
  ctx.writeLines('/output/train/1/model.pb', ['trained-weights']);
  put([cond('Train', 'Waiting')]);
  m.tick();
  assert.deepEqual(statuses(ctx), ['train/ready']);

  const trained = { output: { models: [{ format: 'pb', url: '/output/train/1/model.pb' }] } };
  put([cond('Train', 'Waiting'), cond('Train', 'Ready'), cond('Train', 'Completed', trained), cond('Eval', 'Waiting')]);
  m.tick();
  assert.deepEqual(ctx.reports[1]?.status, {
    phase: 'eval',
    status: 'ready',
    input: {
      models: [
        { format: 'pb', url: '/output/train/1/model.pb' },
        { format: 'pb', url: '/models/deploy/model.pb' },
      ],
      dataURL: '/output/data/eval/1/data.txt',
    },
  });
  assert.deepEqual(read(ctx, '/output/data/eval/1/data.txt').trim().split('\n'), samples(16, 4));

  const evaluated = (newP: number[], oldP: number[]) => ({
    output: {
      models: [
        { format: 'pb', url: '/output/train/1/model.pb', metrics: { precision: newP } },
        { format: 'pb', url: '/models/deploy/model.pb', metrics: { precision: oldP } },
      ],
    },
  });
  const upTo = [
    cond('Train', 'Waiting'),
    cond('Train', 'Ready'),
    cond('Train', 'Completed', trained),
    cond('Eval', 'Waiting'),
    cond('Eval', 'Ready'),
  ];
  put([...upTo, cond('Eval', 'Completed', evaluated([0.9], [0.7])), cond('Deploy', 'Waiting')]);
  m.tick();
  assert.deepEqual(ctx.reports[2]?.status, {
    phase: 'deploy',
    status: 'ready',
    input: {
      models: [
        { format: 'pb', url: '/output/train/1/model.pb' },
        { format: 'pb', url: '/models/deploy/model.pb' },
      ],
    },
  });
  assert.equal(read(ctx, '/models/deploy/model.pb'), 'trained-weights\n', 'the deploy model is replaced');

  // The next round's evaluation does not improve enough: deploy completed, nothing to deploy.
  put([
    ...upTo,
    cond('Eval', 'Completed', evaluated([0.9], [0.7])),
    cond('Deploy', 'Waiting'),
    cond('Deploy', 'Ready'),
    cond('Deploy', 'Completed'),
    cond('Train', 'Waiting'),
    cond('Eval', 'Completed', evaluated([0.75], [0.7])),
    cond('Deploy', 'Waiting'),
  ]);
  m.tick();
  assert.deepEqual(ctx.reports[3]?.status, { phase: 'deploy', status: 'completed' });
  m.close();
});

test('second round trains from the last trained model of the initial model format', () => {
  const { ctx, clock, m, put } = setup();
  ctx.writeLines('/data/index.txt', samples(0, 20));
  put([cond('Train', 'Waiting')]);
  m.tick();
  ctx.writeLines('/data/index.txt', samples(20, 20), true);
  const trained = { output: { models: [{ format: 'ckpt', url: '/output/train/1/model.ckpt' }] } };
  put([
    cond('Train', 'Waiting'),
    cond('Train', 'Ready'),
    cond('Train', 'Completed', trained),
    cond('Train', 'Waiting'),
  ]);
  m.tick();
  assert.equal(ctx.reports.length, 1, 'the check period has not passed');
  clock.advance(60_000);
  m.tick();
  assert.deepEqual(ctx.reports[1]?.status, {
    phase: 'train',
    status: 'ready',
    input: {
      models: [{ format: 'ckpt', url: '/output/train/1/model.ckpt' }],
      dataURL: '/output/data/train/2/data.txt',
      outputDir: '/output/train/2',
    },
  });
  m.close();
});

test('hot update: Deploy Ready without copying, then at Deploy/Running the model and config the worker polls', () => {
  const { ctx, m, put } = setup({
    deploySpec: {
      model: { name: 'deploy', hotUpdateEnabled: true, pollPeriodSeconds: 60 },
      trigger: { condition: { operator: '>', threshold: 0.1, metric: 'precision_delta[0]' } },
      hardExampleMining: { name: 'IBT' },
      template: {},
    },
  });
  ctx.writeLines('/output/train/1/model.pb', ['new']);
  const configFile = `/var/lib/sedna/model-hot-update/${NS}/incrementallearningjob/il/model_config.json`;
  const ann = { 'sedna.io/model-hot-update-config': configFile };
  const trained = { output: { models: [{ format: 'pb', url: '/output/train/1/model.pb' }] } };
  const evaluated = {
    output: {
      models: [
        { format: 'pb', url: '/output/train/1/model.pb', metrics: { precision: [0.95, 0.5] } },
        { format: 'pb', url: '/models/deploy/model.pb', metrics: { precision: [0.6, 0.5] } },
      ],
    },
  };
  const base = [cond('Train', 'Completed', trained), cond('Eval', 'Completed', evaluated), cond('Deploy', 'Waiting')];
  put(base, ann);
  m.tick();
  assert.deepEqual(statuses(ctx), ['deploy/ready']);
  assert.throws(() => read(ctx, '/models/deploy/model.pb'), 'not copied before the worker is Running');

  put([...base, cond('Deploy', 'Ready'), cond('Deploy', 'Starting'), cond('Deploy', 'Running')], ann);
  m.tick();
  const config = JSON.parse(read(ctx, configFile)) as { model_config: Record<string, string> };
  assert.equal(config.model_config.model_path, '/model-hot-update/model.pb');
  assert.ok(config.model_config.model_update_time);
  assert.equal(read(ctx, configFile.replace('model_config.json', 'model.pb')), 'new\n');
  assert.equal(read(ctx, '/models/deploy/model.pb'), 'new\n');
  assert.deepEqual(statuses(ctx), ['deploy/ready'], 'a hot update reports nothing; the worker does');
  const first = read(ctx, configFile);
  m.tick();
  assert.equal(read(ctx, configFile), first, 'written once per Deploy/Running');

  m.delete(NS, 'il');
  assert.throws(() => read(ctx, configFile), 'a deleted job loses its hot update folder');
  m.close();
});

test('worker messages are forwarded as Sedna forwards them (the host refuses owners not on the node)', () => {
  const { m, put } = setup();
  put([cond('Train', 'Waiting')]);
  const msg = {
    name: 'w',
    namespace: NS,
    ownerName: 'il',
    ownerKind: 'incrementallearningjob',
    kind: 'train',
    status: 'completed',
    results: [{ format: 'pb', url: '/output/train/1/model.pb' }],
  };
  assert.deepEqual(m.workerMessage(msg), {
    report: {
      kind: 'IncrementalLearningJob',
      namespace: NS,
      name: 'il',
      status: { phase: 'train', status: 'completed', output: { models: msg.results, ownerInfo: null } },
    },
  });
  m.close();
});

test('a refused report (outbox full) is not recorded: the step fires once the outbox has room', () => {
  const { ctx, clock, m, put } = setup();
  ctx.writeLines('/data/index.txt', samples(0, 20));
  put([cond('Train', 'Waiting')]);
  ctx.refuse = Object.assign(new Error('outbox full'), { code: 'ERR_OUTBOX_FULL' });
  m.tick();
  assert.equal(ctx.reports.length, 0);
  ctx.refuse = undefined;
  clock.advance(60_000);
  m.tick();
  assert.deepEqual(statuses(ctx), ['train/ready']);
  const input = ctx.reports[0]?.status.input as { dataURL: string } | undefined;
  assert.equal(input?.dataURL, '/output/data/train/1/data.txt');
  m.close();
});
