import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { createLink, type Link } from './link.ts';
import { createMemoryStore } from './store/memory.ts';
import type { LcStore } from './store/types.ts';

/** A scripted GM: hands each connection to the test, which reads and writes frames by hand. */
async function fakeGm() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'fedmesh.v1' });
  await new Promise((r) => wss.once('listening', r));
  const conns: Conn[] = [];
  const waiters: Array<() => void> = [];
  wss.on('connection', (ws) => {
    conns.push(conn(ws));
    for (const w of waiters.splice(0)) w();
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    async next(): Promise<Conn> {
      while (!conns.length) await new Promise<void>((r) => waiters.push(r));
      return conns.shift() as Conn;
    },
    close: () => new Promise((r) => wss.close(r)),
  };
}

interface Conn {
  ws: WebSocket;
  frame(type?: string): Promise<Record<string, unknown>>;
  send(f: Record<string, unknown>): void;
  closed: Promise<number>;
}

function conn(ws: WebSocket): Conn {
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    queue.push(JSON.parse(String(d)));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  return {
    ws,
    closed,
    send: (f) => ws.send(JSON.stringify(f)),
    async frame(type) {
      for (;;) {
        const i = queue.findIndex((f) => type === undefined || f.type === type);
        if (i >= 0) return queue.splice(i, 1)[0] as Record<string, unknown>;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

const welcome = (mode: 'resume' | 'resync', stream: string, nextSeq: number, credit = 10) => ({
  type: 'welcome',
  replica: 'fake',
  stream,
  mode,
  nextSeq,
  heartbeatIntervalMs: 5000,
  heartbeatTimeoutMs: 15000,
  credit,
});
const upsert = (seq: number, name: string) => ({
  type: 'object',
  seq,
  op: 'upsert',
  kind: 'Dataset',
  namespace: 'ns',
  name,
  object: { kind: 'Dataset', metadata: { name } },
});

function startLink(store: LcStore, endpoints: string[]): { link: Link; stop: () => Promise<void> } {
  const link = createLink(
    { node: 'n1', endpoints, lcVersion: 't', backoffMinMs: 20, backoffMaxMs: 100 },
    { store, log: pino({ level: 'silent' }), random: () => 0 },
  );
  const ac = new AbortController();
  const done = link.start(ac.signal);
  return {
    link,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

const until = async (pred: () => boolean) => {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred());
};

test('link: snapshot, then changes, applied durably before they are acked; resume from the stored position', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const store = createMemoryStore();
  const { stop } = startLink(store, [gm.url]);
  t.after(stop);
  const c = await gm.next();
  const hello = await c.frame('hello');
  assert.deepEqual(
    { ...hello, instance: undefined },
    {
      type: 'hello',
      node: 'n1',
      lcVersion: 't',
      instance: undefined,
      stream: null,
      lastDownstreamSeq: 0,
      credit: 256,
    },
  );
  store.apply([{ op: 'upsert', kind: 'Dataset', namespace: 'ns', name: 'stale', object: {} }], {
    stream: null,
    seq: 0,
  });
  c.send(welcome('resync', 's1', 1));
  c.send({ type: 'sync-begin', seq: 1, syncId: 'x' });
  c.send(upsert(2, 'a'));
  c.send(upsert(3, 'b'));
  c.send({ type: 'sync-end', seq: 4, syncId: 'x', objects: 2 });
  c.send({ type: 'object', seq: 5, op: 'delete', kind: 'Dataset', namespace: 'ns', name: 'a' });
  let acked = 0;
  while (acked < 5) acked = (await c.frame('ack')).seq as number;
  assert.deepEqual(
    store.listObjects().map((o) => o.name),
    ['b'],
    'the snapshot dropped what it did not carry',
  );
  assert.deepEqual(store.position(), { stream: 's1', seq: 5 });
  c.ws.close(1001);

  // Same replica again: the LC asks to resume where its store stands, and checks the answer.
  const c2 = await gm.next();
  const h2 = await c2.frame('hello');
  assert.deepEqual([h2.stream, h2.lastDownstreamSeq], ['s1', 5]);
  c2.send(welcome('resume', 's1', 6));
  c2.send(upsert(5, 'dup')); // at or below the applied seq: a duplicate, ignored
  c2.send(upsert(6, 'c'));
  assert.equal((await c2.frame('ack')).seq, 6);
  assert.deepEqual(
    store.listObjects().map((o) => o.name),
    ['b', 'c'],
  );
  c2.ws.close(1001);

  // A welcome claiming to resume from somewhere else is a protocol error.
  const c3 = await gm.next();
  await c3.frame('hello');
  c3.send(welcome('resume', 's1', 99));
  assert.equal(await c3.closed, 4400);
});

test('link: a gap in the seqs asks for a resync and ignores frames until the next snapshot', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const store = createMemoryStore();
  const { stop } = startLink(store, [gm.url]);
  t.after(stop);
  const c = await gm.next();
  await c.frame('hello');
  c.send(welcome('resync', 's1', 1));
  c.send(upsert(1, 'a'));
  c.send(upsert(3, 'gap'));
  assert.equal(typeof (await c.frame('resync-request')).reason, 'string');
  c.send(upsert(4, 'ignored'));
  c.send({ type: 'sync-begin', seq: 5, syncId: 'y' });
  c.send(upsert(6, 'z'));
  c.send({ type: 'sync-end', seq: 7, syncId: 'y', objects: 1 });
  await until(() => store.position().seq === 7);
  assert.deepEqual(
    store.listObjects().map((o) => o.name),
    ['z'],
  );
});

test('link: reports go one per object at a time, in order; retryable nacks are retried, others dropped', async (t) => {
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
  r('a', 3);
  link.kick();
  assert.deepEqual((await c.frame('report')).status, { n: 3 });
});

test('link: moves on to the next endpoint at once when one is down', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `ws://127.0.0.1:${(dead.address() as AddressInfo).port}/`;
  await new Promise((r) => dead.close(r)); // nothing listens there any more
  const t0 = performance.now();
  const { stop } = startLink(createMemoryStore(), [deadUrl, gm.url]);
  t.after(stop);
  const c = await gm.next();
  await c.frame('hello');
  assert.ok(performance.now() - t0 < 1000, 'no backoff before trying the second endpoint');
});
