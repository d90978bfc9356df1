import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRegistry } from '../common/metrics.ts';
import { parseEndpoints } from './command.ts';
import { buildLcServer } from './http.ts';
import { nested, nestedText } from './testing.ts';

function server() {
  const reports: unknown[] = [];
  const app = buildLcServer(
    { readyz: [{ name: 'store', failure: () => undefined }], livez: [] },
    {
      registry: createRegistry(),
      log: pino({ level: 'silent' }),
      enqueue: (r) => reports.push(r),
      deadLetters: () => ({ items: [], total: 0 }),
      objects: () => [{ kind: 'Dataset', namespace: 'ns', name: 'd' }],
    },
  );
  return { app, reports };
}

const msg = {
  name: 'w1',
  namespace: 'ns',
  ownerName: 'jis',
  ownerKind: 'JointInferenceService',
  kind: 'inference',
  status: 'running',
  ownerInfo: { fps: 30 },
};

test('worker API: a Sedna worker message becomes a report of its owner, shaped as Sedna LC upstream', async () => {
  const { app, reports } = server();
  const r = await app.inject({ method: 'POST', url: '/sedna/workers/w1/info', payload: { ...msg, extra: 'ignored' } });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { Status: 200, Message: 'OK' });
  assert.deepEqual(reports, [
    {
      kind: 'JointInferenceService',
      namespace: 'ns',
      name: 'jis',
      status: { phase: 'inference', status: 'running', output: { models: null, ownerInfo: { fps: 30 } } },
    },
  ]);
});

const bad: Array<{ name: string; url?: string; payload: unknown }> = [
  { name: 'name differs from the path', payload: { ...msg, name: 'w2' } },
  { name: 'missing namespace', payload: { ...msg, namespace: undefined } },
  { name: 'a number where a string belongs', payload: { ...msg, status: 3 } },
  { name: 'an owner kind that is not Sedna', payload: { ...msg, ownerKind: 'pod' } },
  { name: 'an invalid owner name', payload: { ...msg, ownerName: 'Not_A_Name' } },
  { name: 'results that are not objects', payload: { ...msg, results: [1] } },
  { name: 'not JSON', payload: 'nope' },
  { name: 'an empty body', payload: '' },
  { name: 'a JSON array', payload: '[]' },
  { name: 'a prototype-poisoning key', payload: `{"__proto__":{"x":1},${JSON.stringify(msg).slice(1)}` },
  { name: 'an ownerInfo nested 150 levels deep', payload: JSON.stringify({ ...msg, ownerInfo: nested(150) }) },
  {
    name: 'a body nested 100 000 levels deep (JSON.parse would take it; everything after would overflow)',
    payload: `{"name":"w1","namespace":"ns","ownerInfo":${nestedText(100_000)}}`,
  },
  { name: 'unbalanced brackets', payload: '{"name":"w1","ownerInfo":{{{{]]]' },
];
for (const c of bad) {
  test(`worker API: 400 for ${c.name}, nothing enqueued`, async () => {
    const { app, reports } = server();
    const r = await app.inject({
      method: 'POST',
      url: c.url ?? '/sedna/workers/w1/info',
      payload: c.payload as string,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().Status, 400);
    assert.deepEqual(reports, []);
  });
}

test('LC http: health, readiness, metrics, objects', async () => {
  const { app } = server();
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  assert.match((await app.inject('/metrics')).headers['content-type'] as string, /text\/plain/);
  assert.deepEqual((await app.inject('/fedmesh/objects')).json(), {
    items: [{ kind: 'Dataset', namespace: 'ns', name: 'd' }],
  });
});

const endpoints: Array<{ name: string; text: string; want?: string[] }> = [
  { name: "Sedna's GM_ADDRESS (host:port)", text: 'gm.sedna:9000', want: ['ws://gm.sedna:9000/'] },
  {
    name: 'a list of URLs and addresses',
    text: 'ws://10.0.0.1:9000/, 10.0.0.2:9000,wss://vip/x',
    want: ['ws://10.0.0.1:9000/', 'ws://10.0.0.2:9000/', 'wss://vip/x'],
  },
  { name: 'http URLs become ws', text: 'http://gm:9000', want: ['ws://gm:9000/'] },
  { name: 'nothing', text: ' , ' },
  { name: 'another scheme', text: 'ftp://gm' },
];
for (const c of endpoints) {
  test(`lc endpoints: ${c.name}`, () => {
    if (c.want) assert.deepEqual(parseEndpoints(c.text), c.want);
    else assert.throws(() => parseEndpoints(c.text), { name: 'ConfigError' });
  });
}

// Request bodies exactly as Sedna's Python SDK sends them (`requests` with `json=`: json.dumps with its
// default separators), from lib/sedna/core (the joint-inference LCReporter's periodic report carries
// no `status`) and JobBase.report_task_info.
const sdkBodies: Array<{ name: string; body: string; want: Record<string, unknown> }> = [
  {
    name: "the joint-inference LCReporter's periodic report (no status)",
    body: '{"name": "w1", "namespace": "ns", "ownerName": "jis", "ownerKind": "jointinferenceservice", "kind": "inference", "results": [], "ownerInfo": {"startTime": "2026-12-07 16:00:00", "updateTime": "2026-12-07 16:00:30", "inferenceNumber": 120, "hardExampleNumber": 9, "uploadCloudRatio": 0.075}}',
    want: {
      kind: 'JointInferenceService',
      namespace: 'ns',
      name: 'jis',
      status: {
        phase: 'inference',
        status: '',
        output: {
          models: [],
          ownerInfo: {
            startTime: '2026-12-07 16:00:00',
            updateTime: '2026-12-07 16:00:30',
            inferenceNumber: 120,
            hardExampleNumber: 9,
            uploadCloudRatio: 0.075,
          },
        },
      },
    },
  },
  {
    name: 'report_task_info of a train worker (no ownerInfo)',
    body: '{"name": "w1", "namespace": "ns", "ownerName": "il-1", "ownerKind": "incrementallearningjob", "kind": "train", "status": "completed", "results": [{"format": "pb", "url": "/output/train/1/model.pb", "metrics": {}}]}',
    want: {
      kind: 'IncrementalLearningJob',
      namespace: 'ns',
      name: 'il-1',
      status: {
        phase: 'train',
        status: 'completed',
        output: { models: [{ format: 'pb', url: '/output/train/1/model.pb', metrics: {} }], ownerInfo: null },
      },
    },
  },
];
for (const c of sdkBodies) {
  test(`worker API: accepts ${c.name} as Sedna's SDK sends it`, async () => {
    const { app, reports } = server();
    const r = await app.inject({
      method: 'POST',
      url: '/sedna/workers/w1/info',
      payload: c.body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(reports, [c.want]);
  });
}
