import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mutationsFor, type Report } from '../../common/sedna/status.ts';
import type { Kind } from '../../common/wire/index.ts';
import { createWorld } from './testing.ts';

const NOW = '2026-01-01T00:00:10.000Z';
const w = createWorld();
w.put('FederatedLearningJob', {
  metadata: { name: 'f' },
  spec: { aggregationWorker: { model: { name: 'agg-model' } } },
});

const report = (kind: Kind, content: unknown, extra: Partial<Report> = {}): Report => ({
  node: 'n1',
  kind,
  namespace: 'ns',
  name: kind === 'FederatedLearningJob' ? 'f' : 'x',
  content,
  ...extra,
});
/** Applies every mutation of `r` to `status` (per target), as the writer would. */
const apply = (r: Report, status: Record<string, unknown> = {}) =>
  mutationsFor(r, w.lookup, NOW).map((m) => ({
    target: `${m.kind}/${m.name}`,
    status: m.mutate(structuredClone(status)),
  }));

const cases: Array<{ name: string; r: Report; before?: Record<string, unknown>; want: unknown }> = [
  {
    name: 'Dataset: numberOfSamples with the report time',
    r: report('Dataset', { numberOfSamples: 5 }, { reportedAt: '2026-01-01T00:00:05.000Z' }),
    want: [{ target: 'Dataset/x', status: { numberOfSamples: 5, updateTime: '2026-01-01T00:00:05.000Z' } }],
  },
  {
    name: 'Dataset: a report older than the stored one is not written',
    r: report('Dataset', { numberOfSamples: 5 }, { reportedAt: '2026-01-01T00:00:05.000Z' }),
    before: { numberOfSamples: 9, updateTime: '2026-01-01T00:00:06.000Z' },
    want: [{ target: 'Dataset/x', status: undefined }],
  },
  {
    name: 'Dataset: the same report again writes nothing',
    r: report('Dataset', { numberOfSamples: 5 }, { reportedAt: '2026-01-01T00:00:05.000Z' }),
    before: { numberOfSamples: 5, updateTime: '2026-01-01T00:00:05.000Z' },
    want: [{ target: 'Dataset/x', status: undefined }],
  },
  {
    name: 'JointInferenceService: ownerInfo becomes sorted metrics, time keys dropped',
    r: report('JointInferenceService', {
      phase: 'inference',
      status: 'running',
      output: { ownerInfo: { b: 2, a: 'x', startTime: 't' } },
    }),
    before: { active: 1 },
    want: [
      {
        target: 'JointInferenceService/x',
        status: {
          active: 1,
          metrics: [
            { key: 'a', value: 'x' },
            { key: 'b', value: '2' },
          ],
        },
      },
    ],
  },
  {
    name: 'JointInferenceService: no ownerInfo, nothing to do',
    r: report('JointInferenceService', { phase: 'inference' }),
    want: [],
  },
  {
    name: 'FederatedLearningJob: model metrics to the aggregation Model, a Training condition per round',
    r: report('FederatedLearningJob', {
      output: { models: [{ metrics: { acc: 0.9 } }], ownerInfo: { currentRound: 3, updateTime: 'u' } },
    }),
    want: [
      { target: 'Model/agg-model', status: { metrics: [{ key: 'acc', value: '0.9' }], updateTime: NOW } },
      {
        target: 'FederatedLearningJob/f',
        status: {
          conditions: [
            {
              type: 'Training',
              status: 'True',
              lastProbeTime: NOW,
              lastHeartbeatTime: NOW,
              reason: 'DoTraining',
              message: 'Round 3 reaches at u',
            },
          ],
        },
      },
    ],
  },
  {
    name: 'IncrementalLearningJob: one stage condition with the filtered data',
    r: report('IncrementalLearningJob', {
      phase: 'Train',
      status: 'completed',
      output: { models: [{ format: 'pb', url: 'u', junk: 1 }] },
      junk: 2,
    }),
    before: { conditions: [{ type: 'Waiting' }] },
    want: [
      {
        target: 'IncrementalLearningJob/x',
        status: {
          conditions: [
            { type: 'Waiting' },
            {
              type: 'Completed',
              status: 'True',
              lastHeartbeatTime: NOW,
              lastTransitionTime: NOW,
              message: 'reported by lc',
              stage: 'Train',
              data: '{"output":{"models":[{"format":"pb","url":"u"}]}}',
            },
          ],
        },
      },
    ],
  },
  {
    name: 'LifelongLearningJob: output models set the knowledge base in the same write as the condition',
    r: report('LifelongLearningJob', {
      phase: 'train',
      status: 'completed',
      output: {
        models: [
          {
            format: 'pkl',
            url: 'kb',
            current_metric: { t0: { acc: 0.8 } },
            classes: ['c'],
            number_of_labeled_unseen_sample: 3,
          },
        ],
      },
    }),
    before: { conditions: [] },
    want: [
      {
        target: 'LifelongLearningJob/x',
        status: {
          knowledgeBase: {
            AIModels: {
              numberOfAIModels: 1,
              listOfAIModels: [{ modelID: 't0', averagePrecision: 0.8, numberOfTrainSamples: 3 }],
            },
            AIClasses: { numberOfAIClasses: 1, listOfAIClasses: ['c'] },
            samples: { numberOfLabeledUnseenSample: 3, numberOfUnseenSample: 0 },
          },
          conditions: [
            {
              type: 'Completed',
              status: 'True',
              lastHeartbeatTime: NOW,
              lastTransitionTime: NOW,
              message: 'reported by lc',
              stage: 'Train',
              data: '{"output":{"models":[{"format":"pkl","url":"kb","current_metric":{"t0":{"acc":0.8}},"classes":["c"],"number_of_labeled_unseen_sample":3}]}}',
            },
          ],
        },
      },
    ],
  },
  {
    name: 'LifelongLearningJob: a report without output models keeps the stored knowledge base',
    r: report('LifelongLearningJob', { phase: 'eval', status: 'ready', input: { models: [{ url: 'kb' }] } }),
    before: { knowledgeBase: { kept: true }, conditions: [] },
    want: [
      {
        target: 'LifelongLearningJob/x',
        status: {
          knowledgeBase: { kept: true },
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              lastHeartbeatTime: NOW,
              lastTransitionTime: NOW,
              message: 'reported by lc',
              stage: 'Eval',
              data: '{"input":{"models":[{"format":"","url":"kb"}]}}',
            },
          ],
        },
      },
    ],
  },
  {
    name: 'IncrementalLearningJob: a redelivered fedmesh report (same id) appends nothing',
    r: report('IncrementalLearningJob', { phase: 'train', status: 'ready' }, { id: { instance: 'i', seq: 4 } }),
    before: {
      conditions: [
        { type: 'Ready', message: 'reported by lc n1, report i/4' },
        { type: 'Ready', message: 'reported by lc n1, report i/5' },
      ],
    },
    want: [{ target: 'IncrementalLearningJob/x', status: undefined }],
  },
];
for (const c of cases) {
  test(`status: ${c.name}`, () => assert.deepEqual(apply(c.r, c.before), c.want));
}

const invalid: Array<{ name: string; r: Report }> = [
  { name: 'content that is not an object', r: report('Dataset', [1]) },
  { name: 'a negative sample count', r: report('Dataset', { numberOfSamples: -1 }) },
  { name: 'a sample count that is not an integer', r: report('Dataset', { numberOfSamples: '5' }) },
  { name: 'an unknown stage', r: report('IncrementalLearningJob', { phase: 'dance', status: 'ready' }) },
  { name: 'an unknown stage status', r: report('LifelongLearningJob', { phase: 'eval', status: 'sleepy' }) },
  { name: 'a Model report (LCs do not report models)', r: report('Model', {}) },
];
for (const c of invalid) {
  test(`status: invalid: ${c.name}`, () => {
    assert.throws(() => mutationsFor(c.r, w.lookup, NOW), { name: 'InvalidReportError', code: 'ERR_INVALID_REPORT' });
  });
}
