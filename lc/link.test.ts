import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { createMemoryStore } from './store/memory.ts';
import { fakeGm, startLink, until, upsert, welcome } from './testing.ts';

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

const CODES = [1000, 1001, 1006, 1011, 4400, 4408, 4409, 4426, 4503];
for (const code of CODES) {
  test(`link: after a welcome then a close with ${code}, every reconnect waits the backoff`, async (t) => {
    const gm = await fakeGm();
    t.after(() => gm.close());
    const events: string[] = [];
    const store = createMemoryStore();
    const { stop } = startLink(
      store,
      [gm.url],
      {},
      {
        observer: { dialing: () => events.push('dial') },
        // Records the delay and returns at once: the test sees the schedule without waiting it out.
        sleep: async (ms) => {
          events.push(`wait ${ms}`);
        },
      },
    );
    t.after(stop);
    for (let i = 0; i < 6; i++) {
      const c = await gm.next();
      await c.frame('hello');
      c.send(welcome('resync', `s${i}`, 1));
      if (code === 1006) c.ws.terminate();
      else c.ws.close(code);
      await c.closed;
    }
    await until(() => events.filter((e) => e === 'dial').length >= 6);
    // random() = 0: half steps of 20 ms doubling to the 100 ms cap.
    assert.deepEqual(events.slice(0, 11), [
      'dial',
      'wait 10',
      'dial',
      'wait 20',
      'dial',
      'wait 40',
      'dial',
      'wait 50',
      'dial',
      'wait 50',
      'dial',
    ]);
  });
}

test('link: only a connection that lasted resets the backoff; ended by 1001/1006 it moves on at once, otherwise it waits the first step', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const events: string[] = [];
  const { stop } = startLink(
    createMemoryStore(),
    [gm.url],
    { stableConnectionMs: 50 },
    {
      observer: { dialing: () => events.push('dial') },
      sleep: async (ms) => {
        events.push(`wait ${ms}`);
      },
    },
  );
  t.after(stop);
  // [hold the connection (ms), then close with]: short, short, stable 1001, short, stable 1006, stable 4400, short
  const script: Array<[number, number]> = [
    [0, 4400],
    [0, 4400],
    [150, 1001],
    [0, 4400],
    [150, 1006],
    [150, 4400],
    [0, 4400],
  ];
  for (const [hold, code] of script) {
    const c = await gm.next();
    await c.frame('hello');
    c.send(welcome('resync', 's', 1));
    if (hold) await new Promise((r) => setTimeout(r, hold));
    if (code === 1006) c.ws.terminate();
    else c.ws.close(code);
    await c.closed;
  }
  await until(() => events.filter((e) => e === 'dial').length >= script.length);
  assert.deepEqual(events.slice(0, 14), [
    'dial',
    'wait 10',
    'dial',
    'wait 20',
    'dial', // stable, then 1001: reset, no wait
    'dial',
    'wait 10',
    'dial', // stable, then 1006: reset, no wait
    'dial', // stable, then 4400: reset, but waits the first step
    'wait 10',
    'dial',
    'wait 20',
    'dial',
  ]);
});

test('link: against a GM that always welcomes then closes with 4400, dials over a second follow the backoff', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  void (async () => {
    for (;;) {
      const c = await gm.next();
      void c.frame('hello').then(() => {
        c.send(welcome('resync', 's', 1));
        c.ws.close(4400);
      });
    }
  })();
  const { link, stop } = startLink(createMemoryStore(), [gm.url]);
  await new Promise((r) => setTimeout(r, 1000));
  await stop();
  // Waits of at least 10, 20, 40, then 50 ms each: at most 23 dials fit in a second. Unbounded, it was hundreds.
  const dials = link.status().dials;
  assert.ok(dials >= 3 && dials <= 23, `${dials} dials in 1 s`);
});
