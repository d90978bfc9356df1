import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Kind, SednaKind } from '../../common/wire/index.ts';
import { createMemoryStore } from '../store/memory.ts';
import type { StoreOp } from '../store/types.ts';
import type { WorkerMessage } from '../worker-api.ts';
import { createForwardingManager, withModels } from './forward.ts';
import { createManagerHost } from './host.ts';
import { createManagers } from './registry.ts';
import type { Manager, ManagerContext } from './types.ts';

const log = pino({ level: 'silent' });
const upsert = (kind: Kind, name: string): StoreOp => ({
  op: 'upsert',
  kind,
  namespace: 'ns',
  name,
  object: { kind, metadata: { name, namespace: 'ns' } },
});

/** A manager that records what the host tells it. */
function recorder(kind: SednaKind, calls: string[]): Manager {
  return {
    kind,
    async start(signal) {
      calls.push(`start ${kind}`);
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
    insert: (o) => void calls.push(`insert ${o.kind}/${o.name}`),
    delete: (ns, name) => void calls.push(`delete ${kind}/${ns}/${name}`),
    workerMessage: () => ({ refuse: { status: 409, message: 'recorded' } }),
  };
}

function setup() {
  const store = createMemoryStore();
  const calls: string[] = [];
  const ctx: ManagerContext = { node: 'edge-1', rootfs: '/nonexistent', log, report: () => {}, get: () => undefined };
  const managers = createManagers(
    ctx,
    {},
    {
      dataset: () => recorder('dataset', calls),
      incrementallearningjob: () => recorder('incrementallearningjob', calls),
      // What a kind without a manager of its own gets (pinned: the real LL manager has its own rules).
      lifelonglearningjob: () => createForwardingManager({ kind: 'lifelonglearningjob', statusOf: withModels }),
    },
  );
  const host = createManagerHost({ node: 'edge-1', store, log, managers });
  return { store, calls, host, managers };
}

test('managers: one per Sedna kind, keyed by its lowercase name', () => {
  const { managers } = setup();
  assert.deepEqual(
    [...managers.entries()].map(([k, m]) => [k, m.kind]),
    [
      'dataset',
      'model',
      'jointinferenceservice',
      'federatedlearningjob',
      'incrementallearningjob',
      'lifelonglearningjob',
    ].map((k) => [k, k]),
  );
});

test('manager host: stored objects are inserted at start; applied upserts, deletes and a snapshot retain follow', async () => {
  const { store, calls, host } = setup();
  store.apply([upsert('Dataset', 'd1'), upsert('IncrementalLearningJob', 'il-1')], { stream: 's', seq: 2 });
  const ac = new AbortController();
  const done = host.start(ac.signal);
  assert.deepEqual(calls.filter((c) => c.startsWith('insert')).sort(), [
    'insert Dataset/d1',
    'insert IncrementalLearningJob/il-1',
  ]);
  calls.length = 0;
  const ops: StoreOp[] = [upsert('Dataset', 'd2'), { op: 'delete', kind: 'Dataset', namespace: 'ns', name: 'd1' }];
  store.apply(ops, { stream: 's', seq: 4 });
  host.applied(ops);
  // A resync snapshot names only d2: il-1 left the store.
  const snapshot: StoreOp[] = [upsert('Dataset', 'd2'), { op: 'retain', keys: new Set(['Dataset/ns/d2']) }];
  store.apply(snapshot, { stream: 's2', seq: 2 });
  host.applied(snapshot);
  assert.deepEqual(calls, [
    'insert Dataset/d2',
    'delete dataset/ns/d1',
    'insert Dataset/d2',
    'delete incrementallearningjob/ns/il-1',
  ]);
  ac.abort();
  await done;
});

const worker = (ownerKind: string, ownerName: string, extra: Partial<WorkerMessage> = {}): WorkerMessage => ({
  name: 'w1',
  namespace: 'ns',
  ownerName,
  ownerKind,
  kind: 'inference',
  status: 'running',
  ownerInfo: { fps: 30 },
  results: [{ format: 'pb', url: '/m' }],
  ...extra,
});

test('manager host: worker messages route by ownerKind, for owners this node holds only', () => {
  const { store, host } = setup();
  store.apply(
    [
      upsert('JointInferenceService', 'jis'),
      upsert('FederatedLearningJob', 'fl'),
      upsert('Model', 'm'),
      upsert('IncrementalLearningJob', 'il'),
      upsert('LifelongLearningJob', 'll'),
    ],
    { stream: 's', seq: 1 },
  );
  assert.deepEqual(host.workerMessage(worker('JointInferenceService', 'jis')), {
    report: {
      kind: 'JointInferenceService',
      namespace: 'ns',
      name: 'jis',
      status: { phase: 'inference', status: 'running', output: { models: null, ownerInfo: { fps: 30 } } },
    },
  });
  assert.deepEqual(host.workerMessage(worker('federatedlearningjob', 'fl', { kind: 'train' })), {
    report: {
      kind: 'FederatedLearningJob',
      namespace: 'ns',
      name: 'fl',
      status: {
        phase: 'train',
        status: 'running',
        output: { models: [{ format: 'pb', url: '/m' }], ownerInfo: { fps: 30 } },
      },
    },
  });
  const ll = host.workerMessage(worker('lifelonglearningjob', 'll'));
  assert.ok('report' in ll && ll.report.kind === 'LifelongLearningJob', 'the forwarding manager forwards');
  const status = (o: ReturnType<typeof host.workerMessage>) => ('refuse' in o ? o.refuse.status : 200);
  assert.equal(status(host.workerMessage(worker('incrementallearningjob', 'il'))), 409, 'its manager answers');
  assert.equal(status(host.workerMessage(worker('model', 'm'))), 400, 'Model takes no worker messages');
  assert.equal(status(host.workerMessage(worker('pod', 'x'))), 400);
  const other = host.workerMessage(worker('federatedlearningjob', 'fl-of-edge-2'));
  assert.equal(status(other), 404, "another node's job is not here");
  assert.match('refuse' in other ? other.refuse.message : '', /fl-of-edge-2.*edge-1/);
  assert.equal(status(host.workerMessage({ ...worker('jointinferenceservice', 'jis'), namespace: 'other' })), 404);
});
