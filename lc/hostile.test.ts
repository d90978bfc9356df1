/**
 * The whole LC (createLc, started, over loopback HTTP) under hostile worker input: whatever a
 * worker posts is refused with a 4xx and stores nothing, or is a report the GM will take.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { junk, mutateJson, mutateText } from '../common/wire/arbitraries.ts';
import { type Kind, MAX_JSON_DEPTH } from '../common/wire/index.ts';
import { createLc, type Lc, type LcInit } from './index.ts';
import { createMemoryStore } from './store/memory.ts';
import { type Conn, fakeGm, nested, nestedText, welcome } from './testing.ts';

/** Nothing listens there: the LC keeps its outbox and backs off. */
const NO_GM = 'ws://127.0.0.1:1/';

/** The owners the tests' workers name, as the GM would have sent them: workers of objects not held get 404. */
function seededStore() {
  const store = createMemoryStore();
  const upsert = (kind: Kind, name: string) =>
    ({ op: 'upsert', kind, namespace: 'ns', name, object: { kind, metadata: { name, namespace: 'ns' } } }) as const;
  const jobs = ['il-1', 'il-2', 'il-3', 'il-4'].map((n) => upsert('IncrementalLearningJob', n));
  store.apply([...jobs, upsert('JointInferenceService', 'jis-1')], { stream: null, seq: 0 });
  return store;
}

async function runningLc(t: TestContext, init: Partial<LcInit> = {}) {
  const lc = createLc(
    { node: 'edge-1', endpoints: [NO_GM], http: { host: '127.0.0.1', port: 0 }, backoffMinMs: 20, ...init },
    { log: pino({ level: 'silent' }), token: () => undefined, store: seededStore() },
  );
  const ac = new AbortController();
  const done = lc.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await done;
  });
  while (lc.httpAddress() === undefined) await new Promise((r) => setTimeout(r, 5));
  const url = lc.httpAddress() as string;
  const post = async (body: string | Uint8Array | object, contentType = 'application/json') => {
    const r = await fetch(`${url}/sedna/workers/w1/info`, {
      method: 'POST',
      headers: contentType ? { 'content-type': contentType } : {},
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json().catch(() => undefined)) as { Status: number; Message: string } };
  };
  const metric = async (series: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  return { lc, url, post, metric };
}

const msg = (owner = 'il-1', ownerKind = 'incrementallearningjob', ownerInfo: unknown = { epoch: 1 }) => ({
  name: 'w1',
  namespace: 'ns',
  ownerName: owner,
  ownerKind,
  kind: 'train',
  status: 'completed',
  ownerInfo,
});

const stored = (lc: Lc) => lc.store.outboxSize() + lc.store.deadLetterCount();

test('LC worker API: reports the GM decoder would refuse are 400, and nothing is stored', async (t) => {
  const { lc, post, metric } = await runningLc(t);
  // Over the depth limit in the body itself: refused while parsing, before JSON.parse.
  const deep = await post(msg('il-1', 'incrementallearningjob', nested(150)));
  assert.equal(deep.status, 400);
  assert.equal(deep.body.Status, 400);
  assert.equal((await post(`{"name":"w1","ownerInfo":${nestedText(100_000)}}`)).status, 400);
  // Within the limit as a body, over it as a frame (the report nests ownerInfo three levels down).
  const frameDeep = await post(msg('il-1', 'incrementallearningjob', nested(MAX_JSON_DEPTH - 1)));
  assert.equal(frameDeep.status, 400);
  assert.equal(await metric('fedmesh_lc_reports_refused_total{code="ERR_REPORT_INVALID"}'), 1);
  assert.equal(stored(lc), 0);
  assert.equal((await post(msg())).status, 200, 'a good report still gets in');
  assert.equal(lc.store.outboxSize(), 1);
});

test('LC worker API: 413 for a body over the limit, and for a report whose frame exceeds maxReportBytes', async (t) => {
  const maxReportBytes = 4096;
  const { lc, post, metric } = await runningLc(t, { maxReportBytes, maxOutboxBytes: 1 << 20 });
  assert.equal((await post(msg('il-1', 'incrementallearningjob', { blob: 'x'.repeat(maxReportBytes) }))).status, 413);
  // The body fits; the frame (id, instance, reportedAt, Sedna's status shape) does not.
  const body = JSON.stringify(msg('il-1', 'incrementallearningjob', { blob: '' }));
  const fits = msg('il-1', 'incrementallearningjob', { blob: 'x'.repeat(maxReportBytes - body.length - 10) });
  assert.ok(JSON.stringify(fits).length <= maxReportBytes);
  const r = await post(fits);
  assert.deepEqual([r.status, r.body.Status], [413, 413]);
  assert.equal(await metric('fedmesh_lc_reports_refused_total{code="ERR_REPORT_TOO_LARGE"}'), 1);
  assert.equal(stored(lc), 0);
});

test('LC worker API: a full outbox answers 429 for a busy object, 507 when full, and stores nothing', async (t) => {
  const { lc, post, metric } = await runningLc(t, { maxOutboxReportsPerObject: 2, maxOutboxReports: 4 });
  assert.equal((await post(msg('il-1'))).status, 200);
  assert.equal((await post(msg('il-1'))).status, 200);
  const busy = await post(msg('il-1'));
  assert.deepEqual([busy.status, busy.body.Status], [429, 429]);
  assert.match(busy.body.Message, /il-1/);
  assert.equal(lc.store.outboxSize(), 2);
  assert.equal((await post(msg('il-2'))).status, 200, 'other objects still get in');
  assert.equal((await post(msg('il-3'))).status, 200);
  const full = await post(msg('il-4'));
  assert.deepEqual([full.status, full.body.Status], [507, 507]);
  assert.equal(lc.store.outboxSize(), 4);
  assert.equal(await metric('fedmesh_lc_reports_refused_total{code="ERR_OBJECT_BACKLOG"}'), 1);
  assert.equal(await metric('fedmesh_lc_reports_refused_total{code="ERR_OUTBOX_FULL"}'), 1);
  assert.equal(await metric('fedmesh_lc_outbox_bytes'), lc.store.outboxBytes());
});

test('LC worker API: reports of coalesced kinds replace each other, so they never hit the per-object limit', async (t) => {
  const { lc, post } = await runningLc(t, { maxOutboxReportsPerObject: 1 });
  for (let i = 0; i < 5; i++) {
    assert.equal((await post(msg('jis-1', 'jointinferenceservice', { fps: i }))).status, 200);
  }
  assert.equal(lc.store.outboxSize(), 1);
  assert.equal((await post(msg('il-1'))).status, 200);
  assert.equal((await post(msg('il-1'))).status, 429);
});

test('LC: a report nacked as not retryable is a dead letter in status(), /metrics and GET /fedmesh/dead-letters; the next one is delivered', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const { lc, url, post, metric } = await runningLc(t, { endpoints: [gm.url] });
  const c: Conn = await gm.next();
  await c.frame('hello');
  c.send(welcome('resync', 's1', 1));
  assert.equal((await post(msg('il-1', 'incrementallearningjob', { try: 1 }))).status, 200);
  const first = await c.frame('report');
  c.send({ type: 'nack', reportId: first.id, code: 'INVALID', reason: 'status is not valid', retryable: false });
  assert.equal((await post(msg('il-1', 'incrementallearningjob', { try: 2 }))).status, 200);
  const second = await c.frame('report');
  assert.deepEqual((second.status as { output: { ownerInfo: unknown } }).output.ownerInfo, { try: 2 });
  c.send({ type: 'ack', reportId: second.id });
  for (let i = 0; i < 100 && lc.store.outboxSize() > 0; i++) await new Promise((r) => setTimeout(r, 10));

  assert.deepEqual([lc.status().deadLetters, lc.status().outboxReports], [1, 0]);
  assert.equal(await metric('fedmesh_lc_dead_letter_reports'), 1);
  assert.equal(await metric('fedmesh_lc_reports_dead_lettered_total{reason="nack"}'), 1);
  const listed = (await (await fetch(`${url}/fedmesh/dead-letters`)).json()) as {
    items: Array<Record<string, unknown>>;
    total: number;
  };
  assert.equal(listed.total, 1);
  const [d] = listed.items;
  assert.deepEqual(
    [d?.seq, d?.kind, d?.name, d?.cause, d?.code, d?.reason],
    [(first.id as { seq: number }).seq, 'IncrementalLearningJob', 'il-1', 'nack', 'INVALID', 'status is not valid'],
  );
  assert.deepEqual(
    (JSON.parse(d?.status as string) as { output: { ownerInfo: unknown } }).output.ownerInfo,
    { try: 1 },
    'the status is kept for diagnosis',
  );
  const none = (await (await fetch(`${url}/fedmesh/dead-letters?limit=0`)).json()) as { items: unknown[] };
  assert.equal(none.items.length, 0);
  assert.equal((await fetch(`${url}/fedmesh/dead-letters?limit=-1`)).status, 400);
});

test('LC worker API fuzz: no body makes it answer 500, and a refused one stores nothing', async (t) => {
  const { lc, post } = await runningLc(t, { maxReportBytes: 16 * 1024, maxOutboxReports: 1_000_000 });
  const valid = fc
    .record({
      owner: fc.constantFrom('il-1', 'jis-1'),
      kind: fc.constantFrom('incrementallearningjob', 'jointinferenceservice', 'Dataset', 'pod'),
      info: fc.jsonValue({ maxDepth: 3 }),
    })
    .map(({ owner, kind, info }) => JSON.stringify(msg(owner, kind, info)));
  const deep = fc
    .integer({ min: MAX_JSON_DEPTH - 5, max: 3 * MAX_JSON_DEPTH })
    .map((n) => JSON.stringify(msg()).replace('{"epoch":1}', nestedText(n)));
  const bodies = fc.oneof(junk, mutateText(valid), mutateJson(valid), deep, valid);
  const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', '');
  await fc.assert(
    fc.asyncProperty(bodies, contentType, async (body, type) => {
      const before = stored(lc);
      const r = await post(body, type);
      // 404: a mutated owner name this node does not hold.
      assert.ok([200, 400, 404, 413, 415].includes(r.status), `answered ${r.status}`);
      assert.equal(r.body?.Status, r.status, 'Sedna-shaped reply');
      if (r.status !== 200) assert.equal(stored(lc), before, 'refused, so nothing stored');
    }),
    { numRuns: 400 },
  );
});

test('LC HTTP: the listener limits apply (a connection that never sends its request is cut at the handshake deadline)', async (t) => {
  const { url } = await runningLc(t, {
    httpLimits: { maxConnections: 16, maxConnectionsPerSource: 16, handshakeTimeoutMs: 200 },
  });
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  socket.write('POST /sedna/workers/w1/info HTTP/1.1\r\n'); // and never the rest
  await new Promise((resolve) => socket.once('close', resolve));
});
