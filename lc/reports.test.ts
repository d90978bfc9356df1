import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Dialer, directDialer } from './link.ts';
import { createMemoryStore } from './store/memory.ts';
import { type Conn, fakeGm, nested, startLink, until, welcome } from './testing.ts';

test('link: reports go one per object at a time, in order; retryable nacks are retried, others dead-lettered', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const store = createMemoryStore();
  const { link, stop } = startLink(store, [gm.url]);
  t.after(stop);
  const r = (name: string, n: number) =>
    store.enqueue({
      kind: 'IncrementalLearningJob',
      namespace: 'ns',
      name,
      status: { n },
      reportedAt: new Date().toISOString(),
      coalesce: false,
    });
  const a1 = r('a', 1);
  r('a', 2);
  const b1 = r('b', 1);
  const c = await gm.next();
  await c.frame('hello');
  c.send(welcome('resync', 's1', 1, 10));
  const first = await c.frame('report');
  const second = await c.frame('report');
  assert.deepEqual([first.name, (first.status as { n: number }).n, second.name], ['a', 1, 'b']);
  c.send({ type: 'nack', reportId: first.id, code: 'CONFLICT', reason: 'busy', retryable: true });
  const again = await c.frame('report');
  assert.deepEqual([again.name, (again.status as { n: number }).n], ['a', 1], 'a1 again before a2');
  c.send({ type: 'ack', reportId: again.id });
  const next = await c.frame('report');
  assert.deepEqual([next.name, (next.status as { n: number }).n], ['a', 2]);
  c.send({ type: 'nack', reportId: next.id, code: 'FORBIDDEN', reason: 'no', retryable: false });
  c.send({ type: 'ack', reportId: second.id });
  await until(() => store.outboxSize() === 0);
  assert.ok(a1.seq < b1.seq);
  assert.deepEqual(
    store.deadLetters(10).map((d) => [d.seq, d.name, d.cause, d.code, d.reason]),
    [[(next.id as { seq: number }).seq, 'a', 'nack', 'FORBIDDEN', 'no']],
    'the refused report is kept aside with the reason, not dropped',
  );
  r('a', 3);
  link.kick();
  assert.deepEqual((await c.frame('report')).status, { n: 3 });
});

const job = (name: string, status: Record<string, unknown>) => ({
  kind: 'IncrementalLearningJob' as const,
  namespace: 'ns',
  name,
  status,
  reportedAt: new Date().toISOString(),
  coalesce: false,
});

/** Welcomes every connection and acks every report, except those `poisoned` says close the link. */
function serve(c: Conn, poisoned: (r: Record<string, unknown>) => number | undefined = () => undefined) {
  const got: Array<Record<string, unknown>> = [];
  void (async () => {
    await c.frame('hello');
    c.send(welcome('resync', 's1', 1, 10));
    for (;;) {
      const r = await c.frame('report');
      got.push(r);
      const code = poisoned(r);
      if (code !== undefined) return c.ws.close(code, 'malformed frame: ERR_SCHEMA');
      c.send({ type: 'ack', reportId: r.id });
    }
  })();
  return got;
}

test('link: an outbox entry the GM decoder would refuse is dead-lettered without being sent; the next ones go in order', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const store = createMemoryStore();
  // Left in the outbox by an older LC that did not check (the store itself takes anything JSON).
  const deep = store.enqueue(job('a', nested(150)));
  const big = store.enqueue(job('a', { blob: 'x'.repeat(5000) }));
  const good = store.enqueue(job('a', { n: 1 }));
  const { link, stop } = startLink(store, [gm.url], { maxReportBytes: 4096 });
  t.after(stop);
  const got = serve(await gm.next());
  await until(() => store.outboxSize() === 0);
  assert.deepEqual(
    got.map((r) => (r.id as { seq: number }).seq),
    [good.seq],
    'only the good report reached the GM',
  );
  assert.deepEqual(
    store.deadLetters(10).map((d) => [d.seq, d.cause, d.code]),
    [
      [big.seq, 'invalid', 'ERR_FRAME_TOO_LARGE'],
      [deep.seq, 'invalid', 'ERR_MALFORMED_JSON'],
    ],
  );
  assert.equal(link.status().connects, 1, 'no reconnect was needed');
});

/**
 * A GM that serves every connection (see `serve`) and records, per connection, the seqs of the
 * reports that reached it (as they arrive, whatever it does with them).
 */
async function recordingGm(opts: {
  maxPayload?: number;
  poisoned?: (r: Record<string, unknown>) => number | undefined;
}) {
  const gm = await fakeGm({ maxPayload: opts.maxPayload });
  const conns: Array<{ reports: number[] }> = [];
  void (async () => {
    for (;;) {
      const c = await gm.next();
      const rec: { reports: number[] } = { reports: [] };
      conns.push(rec);
      c.ws.on('message', (d) => {
        const f = JSON.parse(String(d)) as { type: string; id?: { seq: number } };
        if (f.type === 'report' && f.id) rec.reports.push(f.id.seq);
      });
      serve(c, opts.poisoned);
    }
  })();
  return { gm, conns };
}

/**
 * Dials directly but watches the LC's side of each connection: for every report sent, which other
 * reports of that connection were still unsettled (sent, neither acked nor nacked) at that moment.
 */
function inflightSpy() {
  const sends: Array<Array<{ seq: number; alongside: number[] }>> = [];
  const dial: Dialer = (url, o) => {
    const ws = directDialer(url, o);
    const mine: Array<{ seq: number; alongside: number[] }> = [];
    sends.push(mine);
    const open = new Set<number>();
    const send = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      const f = JSON.parse(data) as { type: string; id?: { seq: number } };
      if (f.type === 'report' && f.id) {
        mine.push({ seq: f.id.seq, alongside: [...open] });
        open.add(f.id.seq);
      }
      send(data);
    };
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; reportId?: { seq: number } };
      if ((f.type === 'ack' || f.type === 'nack') && f.reportId) open.delete(f.reportId.seq);
    });
    return ws;
  };
  return { dial, sends };
}

const poisonCases = [
  {
    name: 'the GM closes with 4400 (a report its decoder refuses)',
    code: 4400,
    maxPayload: undefined,
    status: { poison: true },
    poisoned: (r: Record<string, unknown>) => ((r.status as { poison?: boolean }).poison ? 4400 : undefined),
  },
  {
    name: "the GM's ws closes with 1009 (a frame over its maxPayload)",
    code: 1009,
    maxPayload: 2048,
    status: { blob: 'x'.repeat(4096) },
    poisoned: undefined,
  },
];
for (const c of poisonCases) {
  test(`link: when ${c.name}, the reports in flight are suspects sent alone; the poison is dead-lettered, the rest delivered in order`, async (t) => {
    const { gm, conns } = await recordingGm(c);
    t.after(() => gm.close());
    const store = createMemoryStore();
    const a1 = store.enqueue(job('a', { n: 1 }));
    const poison = store.enqueue(job('b', c.status));
    const c1 = store.enqueue(job('c', { n: 1 }));
    const b2 = store.enqueue(job('b', { n: 2 }));
    const acked: number[] = [];
    const closes: number[] = []; // as the LC saw them, one per connection (the GM's side may see 1006)
    const observer = { acked: (seq: number) => acked.push(seq), closed: (code: number) => closes.push(code) };
    const spy = inflightSpy();
    const { link, stop } = startLink(store, [gm.url], {}, { observer, dial: spy.dial });
    t.after(stop);
    await until(() => store.outboxSize() === 0);

    assert.deepEqual(
      store.deadLetters(10).map((d) => [d.seq, d.cause, d.code]),
      [[poison.seq, 'closed', String(c.code)]],
      'only the poison report is dead-lettered',
    );
    assert.deepEqual([...acked].sort(), [a1.seq, c1.seq, b2.seq].sort(), 'every other report was delivered');
    const refused = closes.flatMap((code, i) => (code === c.code ? [i] : []));
    assert.equal(refused.length, 2, 'two strikes: once among others, once alone');
    const [, last] = refused as [number, number];
    const lastSend = spy.sends[last]?.find((x) => x.seq === poison.seq);
    assert.deepEqual(lastSend?.alongside, [], 'nothing else was in flight when the poison went the second time');
    assert.ok(spy.sends[last]?.at(-1)?.seq === poison.seq, 'and nothing else went after it on that connection');
    const b2At = conns.findIndex((x) => x.reports.includes(b2.seq));
    assert.ok(b2At > last, "the object's next report went only after the poison was set aside");
    assert.equal(link.status().suspects, 0);
  });
}

test('link: a 4400 the LC itself sent (a bad downstream frame) makes no suspects', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const store = createMemoryStore();
  store.enqueue(job('a', { n: 1 }));
  const { link, stop } = startLink(store, [gm.url]);
  t.after(stop);
  const c = await gm.next();
  await c.frame('hello');
  c.send(welcome('resync', 's1', 1, 10));
  await c.frame('report'); // in flight, never acked
  c.ws.send('{"type":"object"'); // malformed: the LC closes with 4400, and ws echoes 4400 back
  assert.equal(await c.closed, 4400);
  await until(() => link.status().connected === false);
  assert.equal(link.status().suspects, 0);
});
