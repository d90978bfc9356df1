import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionData, knowledgeBase } from './stage-data.ts';

// A lifelong train worker's `train completed` output model, as Sedna's SDK sends it.
const kbModel = {
  format: 'pkl',
  url: '/output/kb/index.pkl',
  current_metric: { 'task-0': { mIoU: 0.61, acc: 0.9 }, 'task-1': { mIoU: 0.52 } },
  classes: ['road', 'curb'],
  number_of_labeled_unseen_sample: 30,
  number_of_model: 2,
  junk: true,
};

const cases: Array<{ name: string; content: Record<string, unknown>; data: unknown; kb: unknown }> = [
  {
    name: 'no output models: no knowledge base',
    content: { phase: 'train', status: 'ready', input: { dataURL: '/d.txt', junk: 1 } },
    data: { input: { dataURL: '/d.txt' } },
    kb: undefined,
  },
  {
    name: 'empty output models: no knowledge base',
    content: { output: { models: [] } },
    data: { output: {} },
    kb: undefined,
  },
  {
    name: 'one model per current_metric entry, first metric as precision, first model classes, samples summed',
    content: { output: { models: [kbModel, { url: 'b', number_of_labeled_unseen_sample: 5, classes: ['x'] }] } },
    data: {
      output: {
        models: [
          {
            format: 'pkl',
            url: '/output/kb/index.pkl',
            current_metric: { 'task-0': { mIoU: 0.61, acc: 0.9 }, 'task-1': { mIoU: 0.52 } },
            classes: ['road', 'curb'],
            number_of_labeled_unseen_sample: 30,
            number_of_model: 2,
          },
          { format: '', url: 'b', classes: ['x'], number_of_labeled_unseen_sample: 5 },
        ],
      },
    },
    kb: {
      AIModels: {
        numberOfAIModels: 2,
        listOfAIModels: [
          { modelID: 'task-0', averagePrecision: 0.61, numberOfTrainSamples: 30 },
          { modelID: 'task-1', averagePrecision: 0.52, numberOfTrainSamples: 30 },
        ],
      },
      AIClasses: { numberOfAIClasses: 2, listOfAIClasses: ['road', 'curb'] },
      samples: { numberOfLabeledUnseenSample: 35, numberOfUnseenSample: 0 },
    },
  },
  {
    name: 'a model without knowledge fields: zeros, as Sedna',
    content: { output: { models: [{ format: 'pkl', url: 'u' }] } },
    data: { output: { models: [{ format: 'pkl', url: 'u' }] } },
    kb: {
      AIModels: { numberOfAIModels: 0 },
      AIClasses: { numberOfAIClasses: 0 },
      samples: { numberOfLabeledUnseenSample: 0, numberOfUnseenSample: 0 },
    },
  },
  {
    name: 'malformed fields are dropped, the rest kept',
    content: {
      output: {
        models: [
          {
            url: 'u',
            current_metric: { t: { acc: 'high' } },
            classes: [1],
            number_of_labeled_unseen_sample: 1.5,
            history_metric: 0.4,
          },
        ],
      },
    },
    data: { output: { models: [{ format: '', url: 'u', history_metric: 0.4 }] } },
    kb: {
      AIModels: { numberOfAIModels: 0 },
      AIClasses: { numberOfAIClasses: 0 },
      samples: { numberOfLabeledUnseenSample: 0, numberOfUnseenSample: 0 },
    },
  },
  {
    name: 'a metric-less model entry has precision 0',
    content: { output: { models: [{ url: 'u', current_metric: { t: {} } }] } },
    data: { output: { models: [{ format: '', url: 'u', current_metric: { t: {} } }] } },
    kb: {
      AIModels: {
        numberOfAIModels: 1,
        listOfAIModels: [{ modelID: 't', averagePrecision: 0, numberOfTrainSamples: 0 }],
      },
      AIClasses: { numberOfAIClasses: 0 },
      samples: { numberOfLabeledUnseenSample: 0, numberOfUnseenSample: 0 },
    },
  },
];
for (const c of cases) {
  test(`stage data: ${c.name}`, () => {
    const data = conditionData(c.content);
    assert.deepEqual(data, c.data);
    assert.deepEqual(knowledgeBase(data), c.kb);
  });
}

test('stage data: model fields keep Go field order in the condition data', () => {
  const data = conditionData({ output: { models: [{ number_of_model: 1, classes: ['a'], url: 'u', format: 'f' }] } });
  assert.equal(
    JSON.stringify(data),
    '{"output":{"models":[{"format":"f","url":"u","classes":["a"],"number_of_model":1}]}}',
  );
});
