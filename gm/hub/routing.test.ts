import assert from 'node:assert/strict';
import { test } from 'node:test';
import { directTargets, modelRefs } from '../../common/sedna/targets.ts';
import type { Kind } from '../../common/wire/index.ts';
import { createWorld, ds, fl, il } from './testing.ts';

const lookupWith = (datasetNode?: string) => ({
  get: (kind: Kind, _ns: string, name: string) =>
    kind === 'Dataset' && datasetNode !== undefined && name === 'd'
      ? { metadata: { name: 'd' }, spec: { nodeName: datasetNode } }
      : undefined,
});

const cases: Array<{ name: string; kind: Kind; obj: Record<string, unknown>; ds?: string; want: string[] }> = [
  { name: 'Dataset: spec.nodeName', kind: 'Dataset', obj: { spec: { nodeName: 'n1' } }, want: ['n1'] },
  { name: 'Dataset without a node: nowhere', kind: 'Dataset', obj: { spec: { nodeName: '' } }, want: [] },
  {
    name: 'JointInferenceService: the edge worker node',
    kind: 'JointInferenceService',
    obj: {
      spec: {
        edgeWorker: { template: { spec: { nodeName: 'e' } } },
        cloudWorker: { template: { spec: { nodeName: 'c' } } },
      },
    },
    want: ['e'],
  },
  {
    name: 'FederatedLearningJob: every training worker node, once',
    kind: 'FederatedLearningJob',
    obj: fl('f', ['a', 'b', 'a']),
    want: ['a', 'b'],
  },
  {
    name: 'FederatedLearningJob: malformed workers are ignored',
    kind: 'FederatedLearningJob',
    obj: { spec: { trainingWorkers: 'x' } },
    want: [],
  },
  {
    name: 'IncrementalLearningJob: dataset node plus stage annotations',
    kind: 'IncrementalLearningJob',
    obj: il('j', 'd', {
      annotations: { 'sedna.io/Train': 't', 'sedna.io/Eval': 'e', 'sedna.io/Deploy': 'd1', other: 'x' },
    }),
    ds: 'n',
    want: ['n', 't', 'e', 'd1'],
  },
  {
    name: 'IncrementalLearningJob without conditions: nowhere yet (as Sedna)',
    kind: 'IncrementalLearningJob',
    obj: il('j', 'd', { active: false }),
    ds: 'n',
    want: [],
  },
  {
    name: 'IncrementalLearningJob whose dataset is missing: annotations only',
    kind: 'IncrementalLearningJob',
    obj: il('j', 'd', { annotations: { 'sedna.io/Train': 't' } }),
    want: ['t'],
  },
  {
    name: 'LifelongLearningJob: dataset node and the training template node',
    kind: 'LifelongLearningJob',
    obj: {
      metadata: { name: 'l' },
      spec: { dataset: { name: 'd' }, trainSpec: { template: { spec: { nodeName: 'tn' } } } },
    },
    ds: 'n',
    want: ['n', 'tn'],
  },
  { name: 'Model: never directly', kind: 'Model', obj: { spec: { url: 'x' } }, want: [] },
];
for (const c of cases) {
  test(`routing: ${c.name}`, () => {
    const obj = { metadata: { name: 'x', namespace: 'ns' }, ...c.obj };
    assert.deepEqual([...directTargets(c.kind, obj as never, lookupWith(c.ds))].sort(), [...c.want].sort());
  });
}

test('routing: modelRefs lists initial, eval and deploy models once', () => {
  const job = {
    metadata: { name: 'j' },
    spec: {
      initialModel: { name: 'a' },
      evalSpec: { initialEvalModel: { name: 'a' } },
      deploySpec: { model: { name: 'b' } },
    },
  };
  assert.deepEqual(modelRefs(job), ['a', 'b']);
});

test('router: an object is announced to its node, its changes too, and its delete', () => {
  const w = createWorld();
  w.put('Dataset', ds('d1', 'n1'));
  w.put('Dataset', ds('d1', 'n1'));
  w.del('Dataset', 'd1');
  assert.deepEqual(w.events, ['n1 Dataset/ns/d1', 'n1 Dataset/ns/d1', 'n1 Dataset/ns/d1']);
  assert.equal(w.router.keysOf('n1').size, 0);
});

test('router: moving a training worker tells the old node (delete) and the new one, and nobody else', () => {
  const w = createWorld();
  w.put('FederatedLearningJob', fl('f', ['a', 'b']));
  w.events.length = 0;
  w.put('FederatedLearningJob', fl('f', ['a', 'c']));
  assert.deepEqual(w.events.sort(), [
    'a FederatedLearningJob/ns/f',
    'b FederatedLearningJob/ns/f',
    'c FederatedLearningJob/ns/f',
  ]);
  assert.equal(w.router.routes('FederatedLearningJob/ns/f', 'b'), false);
  assert.deepEqual([...w.router.nodesOf('FederatedLearningJob/ns/f')].sort(), ['a', 'c']);
});

test('router: an IL job follows its dataset, and its models follow the dataset node', () => {
  const w = createWorld();
  w.put('Model', { metadata: { name: 'm-initial' } });
  w.put('Model', { metadata: { name: 'm-deploy' } });
  w.put('IncrementalLearningJob', il('j', 'd', { annotations: { 'sedna.io/Train': 't' } }));
  assert.deepEqual([...w.router.keysOf('t')], ['IncrementalLearningJob/ns/j'], 'the dataset does not exist yet');
  w.put('Dataset', ds('d', 'n1'));
  assert.deepEqual([...w.router.keysOf('n1')].sort(), [
    'Dataset/ns/d',
    'IncrementalLearningJob/ns/j',
    'Model/ns/m-deploy',
    'Model/ns/m-initial',
  ]);
  w.events.length = 0;
  w.put('Dataset', ds('d', 'n2'));
  assert.deepEqual([...w.router.keysOf('n1')], []);
  assert.deepEqual([...w.router.keysOf('n2')].sort(), [
    'Dataset/ns/d',
    'IncrementalLearningJob/ns/j',
    'Model/ns/m-deploy',
    'Model/ns/m-initial',
  ]);
  assert.ok(!w.events.some((e) => e.startsWith('t ')), 'the Train node keeps the job untouched');
  w.del('IncrementalLearningJob', 'j');
  assert.deepEqual([...w.router.keysOf('n2')], ['Dataset/ns/d'], 'models go with the last job that needs them');
  assert.deepEqual([...w.router.keysOf('t')], []);
});

test('router: an IL job becomes routed when its first condition appears, with its models', () => {
  const w = createWorld();
  w.put('Dataset', ds('d', 'n1'));
  w.put('Model', { metadata: { name: 'm-initial' } });
  w.put('IncrementalLearningJob', il('j', 'd', { active: false }));
  assert.deepEqual([...w.router.keysOf('n1')], ['Dataset/ns/d']);
  w.put('IncrementalLearningJob', il('j', 'd'));
  assert.deepEqual([...w.router.keysOf('n1')].sort(), [
    'Dataset/ns/d',
    'IncrementalLearningJob/ns/j',
    'Model/ns/m-initial',
  ]);
  w.put('Model', { metadata: { name: 'm-deploy' } });
  assert.ok(w.router.routes('Model/ns/m-deploy', 'n1'), 'a model created later is routed too');
});
