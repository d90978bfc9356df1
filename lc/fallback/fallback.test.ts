import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { isTargeted, targetLabel } from '../../common/sedna/targets.ts';
import { createMemoryStore } from '../store/memory.ts';
import type { AppliedOp, LcStore } from '../store/types.ts';
import { FallbackError } from './errors.ts';
import { createFallback, type FallbackInit } from './index.ts';
import { type FakeEdgeApi, startFakeEdgeApi } from './testing.ts';

const lines: Array<Record<string, unknown>> = [];
const log = createLogger({
  component: 'test',
  level: 'debug',
  destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
});
const NODE = 'edge-1';
const mine = { [targetLabel(NODE)]: 'true' };
const theirs = { [targetLabel('edge-2')]: 'true' };

async function until(what: string, ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Rig {
  api: FakeEdgeApi;
  store: LcStore;
  applied: AppliedOp[];
  fallback: ReturnType<typeof createFallback>;
  registry: ReturnType<typeof createRegistry>;
  start(): void;
  stop(): Promise<void>;
}

async function rig(init: Partial<FallbackInit> = {}, setup?: (api: FakeEdgeApi) => void): Promise<Rig> {
  const api = await startFakeEdgeApi();
  setup?.(api);
  const store = createMemoryStore();
  const applied: AppliedOp[] = [];
  const registry = createRegistry();
  const fallback = createFallback(
    { node: NODE, url: api.url, backoffMinMs: 20, backoffMaxMs: 50, ...init },
    { store, log, registry, applied: (ops) => applied.push(...ops) },
  );
  const ctl = new AbortController();
  let running: Promise<void> | undefined;
  const r: Rig = {
    api,
    store,
    applied,
    fallback,
    registry,
    start() {
      running = fallback.run(ctl.signal);
    },
    async stop() {
      ctl.abort();
      await running;
      await api.close();
    },
  };
  after(() => r.stop());
  return r;
}
const names = (s: LcStore) => s.listObjects().map((o) => `${o.kind}/${o.name}`);

test('targetLabel: the node name as it is up to 63 characters, else h_ and a hash; isTargeted tests the key', () => {
  assert.equal(targetLabel('edge-1'), 'targets.fedmesh.io/edge-1');
  const long = `${'a'.repeat(60)}.example.com`;
  const key = targetLabel(long);
  assert.match(key, /^targets\.fedmesh\.io\/h_[0-9a-f]{56}$/);
  assert.equal(key, targetLabel(long), 'stable');
  assert.notEqual(key, targetLabel(`${long}x`));
  assert.equal(targetLabel('a'.repeat(63)).length, 'targets.fedmesh.io/'.length + 63);
  assert.ok(isTargeted({ [key]: 'true' }, long));
  assert.ok(!isTargeted({ 'targets.fedmesh.io/edge-2': 'true' }, 'edge-1'));
  assert.ok(!isTargeted(undefined, 'edge-1'));
});

test('lists and watches only its node’s objects, by label selector, and follows changes and deletes', async () => {
  const r = await rig({}, (api) => {
    api.put('datasets', 'ns', 'd1', mine, { spec: { nodeName: NODE } });
    api.put('datasets', 'ns', 'd2', theirs);
    api.put('models', 'ns', 'm1', { ...mine, ...theirs });
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  assert.deepEqual(names(r.store), ['Dataset/d1', 'Model/m1']);
  const stored = r.store.getObject('Dataset', 'ns', 'd1')?.object;
  assert.equal(stored?.kind, 'Dataset', 'kind set as the GM sets it');
  assert.equal(stored?.apiVersion, 'sedna.io/v1alpha1');
  assert.ok(r.api.requests.some((q) => q.includes(`labelSelector=${encodeURIComponent(targetLabel(NODE))}`)));
  r.api.put('datasets', 'ns', 'd1', mine, { spec: { nodeName: NODE, v: 2 } });
  r.api.put('datasets', 'ns', 'd3', mine);
  r.api.delete('models', 'ns', 'm1');
  await until('changes', () => names(r.store).join() === 'Dataset/d1,Dataset/d3');
  assert.deepEqual((r.store.getObject('Dataset', 'ns', 'd1')?.object.spec as { v?: number } | undefined)?.v, 2);
  const st = r.fallback.status();
  assert.equal(st.objectsFilteredOut, 0);
  assert.equal(st.selectorIgnored, false);
  assert.ok(st.objectsReceived >= 5 && st.bytesReceived > 0);
  assert.match(r.registry.render(), /fedmesh_lc_fallback_bytes_received_total \d+/);
  assert.deepEqual([...r.api.agents], ['fedmesh-lc/1'], 'yurthub caches by User-Agent');
  assert.deepEqual(
    r.applied.map((o) => `${o.op} ${o.kind}/${o.name}`),
    ['upsert Dataset/d1', 'upsert Model/m1', 'upsert Dataset/d1', 'upsert Dataset/d3', 'delete Model/m1'],
    'the managers hear each change once',
  );
});

test('an endpoint that ignores the selector: filtered on the node, warned once, counted', async () => {
  const r = await rig({}, (api) => {
    api.opts.ignoreSelector = true;
    api.put('datasets', 'ns', 'd1', mine);
    api.put('datasets', 'ns', 'd2', theirs);
    api.put('datasets', 'ns', 'd3', {});
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  r.api.put('datasets', 'ns', 'd4', theirs);
  r.api.put('datasets', 'ns', 'd1', theirs); // moved away from this node: deleted here
  await until('moved', () => names(r.store).length === 0);
  const st = r.fallback.status();
  assert.equal(st.selectorIgnored, true);
  assert.equal(st.objectsFilteredOut, 4);
  assert.match(r.registry.render(), /fedmesh_lc_fallback_objects_filtered_total\{kind="Dataset"\} 4/);
  assert.equal(lines.filter((l) => l.msg === 'edge api ignores the label selector; filtering on the node').length, 1);
});

test('410 Gone: a clean relist, and what was deleted meanwhile is deleted here', async () => {
  const r = await rig({}, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.put('datasets', 'ns', 'd2', mine);
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  // Changes nobody watched, then a compaction: the watch ends with 410 and re-watching is refused.
  r.api.opts.silentWatches = true;
  r.api.delete('datasets', 'ns', 'd2');
  r.api.put('datasets', 'ns', 'd3', mine);
  r.api.opts.silentWatches = false;
  r.api.compact();
  await until('relisted', () => names(r.store).join() === 'Dataset/d1,Dataset/d3');
  assert.ok(r.fallback.status().gone >= 1);
  assert.ok(r.fallback.status().lists > 6);
});

test('a watch that sends nothing is restarted after the idle time', async () => {
  const r = await rig({ watchIdleMs: 150 }, (api) => api.put('datasets', 'ns', 'd1', mine));
  r.start();
  await until('synced', () => r.fallback.status().synced);
  r.api.opts.silentWatches = true;
  await until('idle restarts', () => r.fallback.status().idleRestarts >= 6, 3000);
  r.api.opts.silentWatches = false;
  r.api.put('datasets', 'ns', 'd2', mine);
  await until('change after the restart', () => names(r.store).includes('Dataset/d2'));
});

test('an endpoint that never sends DELETED for an object leaving the label (metaServer): gone at the idle relist', async () => {
  const r = await rig({ watchIdleMs: 150 }, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.put('datasets', 'ns', 'd2', mine);
  });
  r.start();
  await until('synced', () => names(r.store).join() === 'Dataset/d1,Dataset/d2');
  // A selector-honouring endpoint: the move is a DELETED on the watch.
  r.api.put('datasets', 'ns', 'd1', theirs);
  await until('moved away', () => names(r.store).join() === 'Dataset/d2');
  r.api.opts.dropUnmatched = true;
  r.api.put('datasets', 'ns', 'd2', theirs);
  await until('dropped at the relist after the idle time', () => names(r.store).length === 0, 3000);
  assert.ok(r.fallback.status().idleRestarts >= 1);
});

test('a status write answered from a cache (200, same version) is not written: the report stays, then lands', async () => {
  const r = await rig({}, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.opts.cachedWrites = true;
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  r.store.enqueue({
    kind: 'Dataset',
    namespace: 'ns',
    name: 'd1',
    status: { numberOfSamples: 7 },
    reportedAt: '2026-01-01T00:00:00.000Z',
    coalesce: true,
  });
  r.fallback.kick();
  await until('tried', () => r.api.requests.filter((q) => q.startsWith('PUT')).length >= 1);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(r.store.outboxSize(), 1, 'still in the outbox');
  assert.equal(r.fallback.status().reportsWritten, 0);
  assert.equal(r.fallback.status().writes, 'on', 'tried again, not turned off');
  r.api.opts.cachedWrites = false;
  r.fallback.kick();
  await until('written', () => r.store.outboxSize() === 0, 8000);
  assert.deepEqual(r.api.get('datasets', 'ns', 'd1')?.status, {
    numberOfSamples: 7,
    updateTime: '2026-01-01T00:00:00.000Z',
  });
});

test('a refused credential: a clear error in status, nothing applied, retried no faster than the auth backoff', async () => {
  const r = await rig({}, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.opts.failWith = 401;
  });
  r.store.apply(
    [{ op: 'upsert', kind: 'Model', namespace: 'ns', name: 'kept', object: { metadata: { name: 'kept' } } }],
    {
      stream: null,
      seq: 0,
    },
  );
  r.start();
  await until('error', () => r.fallback.status().lastError !== undefined);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.fallback.status().lastError?.code, 'ERR_EDGE_API_AUTH');
  assert.deepEqual(names(r.store), ['Model/kept'], 'the store is untouched');
  assert.ok(r.api.requests.length <= 7, `one try per kind, then the auth wait (${r.api.requests.length})`);
});

test('bad options are refused at creation with a ConfigError', () => {
  const store = createMemoryStore();
  const bad: Array<Partial<FallbackInit>> = [
    { url: 'ftp://x' },
    { url: 'not a url' },
    { url: 'http://x', caFile: '/nonexistent' },
    { url: 'https://x', caFile: '/nonexistent/ca.pem' },
    { writes: 'maybe' as never },
    { watchIdleMs: 0 },
  ];
  for (const b of bad) {
    assert.throws(
      () => createFallback({ node: NODE, ...b }, { store, log }),
      { name: 'ConfigError' },
      JSON.stringify(b),
    );
  }
});

test('status writes: a report becomes the hub’s status write through the endpoint, then leaves the outbox', async () => {
  const r = await rig({}, (api) => api.put('datasets', 'ns', 'd1', mine, { spec: { nodeName: NODE } }));
  r.start();
  await until('synced', () => r.fallback.status().synced);
  r.store.enqueue({
    kind: 'Dataset',
    namespace: 'ns',
    name: 'd1',
    status: { numberOfSamples: 42 },
    reportedAt: '2026-01-01T00:00:00.000Z',
    coalesce: true,
  });
  r.fallback.kick();
  await until('written', () => r.store.outboxSize() === 0);
  assert.deepEqual(r.api.get('datasets', 'ns', 'd1')?.status, {
    numberOfSamples: 42,
    updateTime: '2026-01-01T00:00:00.000Z',
  });
  assert.equal(r.fallback.status().reportsWritten, 1);
  // Not this node's object (not held): waits for a GM.
  r.store.enqueue({
    kind: 'Dataset',
    namespace: 'ns',
    name: 'other',
    status: { numberOfSamples: 1 },
    reportedAt: '2026-01-01T00:00:01.000Z',
    coalesce: true,
  });
  r.fallback.kick();
  await until('waiting', () => r.fallback.status().reportsWaitingForGm === 1);
  assert.equal(r.store.outboxSize(), 1);
});

test('writes auto: an endpoint refusing writes turns them off and reports wait in the outbox', async () => {
  const r = await rig({}, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.opts.statusWrites = 405;
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  r.store.enqueue({
    kind: 'Dataset',
    namespace: 'ns',
    name: 'd1',
    status: { numberOfSamples: 1 },
    reportedAt: '2026-01-01T00:00:00.000Z',
    coalesce: true,
  });
  r.fallback.kick();
  await until('off', () => r.fallback.status().writes === 'off');
  assert.equal(r.store.outboxSize(), 1);
});

test('FallbackError carries a stable code and the HTTP status', () => {
  const e = new FallbackError('ERR_EDGE_API_GONE', 'x', 410);
  assert.deepEqual([e.name, e.code, e.status], ['FallbackError', 'ERR_EDGE_API_GONE', 410]);
});

test('after a switch from the GM link: objects held at the same or a newer version are not applied again', async () => {
  let d1: Record<string, unknown> = {};
  const r = await rig({}, (api) => {
    d1 = api.put('datasets', 'ns', 'd1', mine);
    api.put('datasets', 'ns', 'd2', mine);
  });
  // What the GM link had delivered: d1 at the endpoint's version, d2 at a newer one than the endpoint has.
  const d2 = { kind: 'Dataset', metadata: { name: 'd2', namespace: 'ns', resourceVersion: '999', labels: mine } };
  r.store.apply(
    [
      { op: 'upsert', kind: 'Dataset', namespace: 'ns', name: 'd1', object: { ...d1, kind: 'Dataset' } },
      { op: 'upsert', kind: 'Dataset', namespace: 'ns', name: 'd2', object: d2 },
    ],
    { stream: 's', seq: 7 },
  );
  r.start();
  await until('synced', () => r.fallback.status().synced);
  assert.deepEqual(r.applied, [], 'nothing applied twice, nothing older');
  assert.equal(
    (r.store.getObject('Dataset', 'ns', 'd2')?.object.metadata as { resourceVersion: string } | undefined)
      ?.resourceVersion,
    '999',
  );
  assert.deepEqual(r.store.position(), { stream: 's', seq: 7 }, 'the GM stream position is kept for the resume');
  r.api.put('datasets', 'ns', 'd1', mine, { v: 2 });
  await until('newer applied', () => r.applied.length === 1);
});

test('a list never deletes held objects that carry no target label (the labeler has not seen them)', async () => {
  const r = await rig({}, (api) => api.put('datasets', 'ns', 'd1', mine));
  const held = (name: string, labels?: Record<string, string>) => ({
    op: 'upsert' as const,
    kind: 'Dataset' as const,
    namespace: 'ns',
    name,
    object: { kind: 'Dataset', metadata: { name, namespace: 'ns', resourceVersion: '5', labels } },
  });
  r.store.apply([held('unlabelled'), held('moved-away', theirs)], { stream: null, seq: 0 });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  assert.deepEqual(names(r.store), ['Dataset/d1', 'Dataset/unlabelled']);
});

test('watches that end at once are restarted with backoff, not in a loop', async () => {
  const r = await rig({ backoffMinMs: 100, backoffMaxMs: 400 }, (api) => {
    api.put('datasets', 'ns', 'd1', mine);
    api.opts.endWatches = true;
  });
  r.start();
  await until('synced', () => r.fallback.status().synced);
  await new Promise((res) => setTimeout(res, 1500));
  const watches = r.api.requests.filter((q) => q.includes('/datasets?') && q.includes('watch=true')).length;
  // 100 + 200 + 400 + 400 ms (+ jitter) fit in 1.5 s: about 5, never hundreds.
  assert.ok(watches >= 2 && watches <= 7, `${watches} watch requests`);
});
