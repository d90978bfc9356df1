import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { createLink, type Link } from '../link.ts';
import { createMemoryStore } from '../store/memory.ts';
import { type Conn, type FakeGm, fakeGm, until, upsert, welcome } from '../testing.ts';
import { createPathManager } from './index.ts';
import { blackhole } from './testing.ts';
import type { ActivePath, FallbackRunner, GmPathInit, PathManager } from './types.ts';

const log = pino({ level: 'silent' });

/** Welcomes every connection of `gm` (resync) and keeps them, newest last. */
function autoWelcome(gm: FakeGm, name: string): Conn[] {
  const conns: Conn[] = [];
  void (async () => {
    for (;;) {
      const c = await gm.next().catch(() => undefined);
      if (!c) return;
      conns.push(c);
      void c
        .frame('hello')
        .then(() => c.send({ ...welcome('resync', name, 1), replica: name }))
        .catch(() => {});
    }
  })();
  return conns;
}

interface Started {
  link: Link;
  paths: PathManager;
  switches: Array<[ActivePath, ActivePath]>;
  dials: string[];
  stop(): Promise<void>;
}

function start(
  gmPaths: GmPathInit[],
  opts: {
    fallback?: FallbackRunner;
    probePeriodMs?: number;
    heartbeat?: [number, number];
    applied?: (names: string[]) => void;
  } = {},
): Started {
  const dials: string[] = [];
  const switches: Array<[ActivePath, ActivePath]> = [];
  const [hbi, hbt] = opts.heartbeat ?? [50, 200];
  const link = createLink(
    { node: 'n1', lcVersion: 't', heartbeatIntervalMs: hbi, heartbeatTimeoutMs: hbt },
    {
      store: createMemoryStore(),
      log,
      random: () => 0,
      observer: {
        dialing: (u) => dials.push(u),
        applied: (ops) => opts.applied?.(ops.flatMap((o) => (o.op === 'retain' ? [] : [o.name]))),
      },
    },
  );
  const paths = createPathManager(
    { paths: gmPaths, probePeriodMs: opts.probePeriodMs ?? 300, backoffMinMs: 20, backoffMaxMs: 100 },
    { link, log, random: () => 0, fallback: opts.fallback, switched: (f, t) => switches.push([f, t]) },
  );
  const ac = new AbortController();
  const done = paths.start(ac.signal);
  return {
    link,
    paths,
    switches,
    dials,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** Polls `pred` every 10 ms for up to `ms`, then asserts it. */
async function eventually(pred: () => boolean, ms: number) {
  const end = performance.now() + ms;
  while (!pred() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred());
}

async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  await new Promise((r) => s.close(r));
  return url;
}

/** A fallback stub: counts runs, records when each stopped. */
function stubFallback() {
  const events: string[] = [];
  let running = false;
  const runner: FallbackRunner = {
    async run(signal) {
      running = true;
      events.push('run');
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      await new Promise((r) => setTimeout(r, 20)); // stopping takes a while: the GM session must wait for it
      running = false;
      events.push('stopped');
    },
  };
  return {
    runner,
    events,
    get running() {
      return running;
    },
  };
}

test('paths: the best path that is up serves; worse ones are never dialled', async (t) => {
  const direct = await fakeGm();
  const mesh = await fakeGm();
  t.after(() => Promise.all([direct.close(), mesh.close()]));
  autoWelcome(direct, 'direct');
  autoWelcome(mesh, 'mesh');
  const s = start([
    { name: 'direct', urls: [direct.url] },
    { name: 'mesh', urls: [mesh.url] },
  ]);
  t.after(s.stop);
  await until(() => s.paths.status().path === 'direct');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(mesh.accepted, 0);
  assert.deepEqual(s.switches, []);
});

test('paths: direct down at start → mesh; direct probed every period; back to direct when it answers', async (t) => {
  const mesh = await fakeGm();
  t.after(() => mesh.close());
  const meshConns = autoWelcome(mesh, 'mesh');
  const direct = await fakeGm();
  t.after(() => direct.close());
  const directProxy = await blackhole({ host: '127.0.0.1', port: Number(new URL(direct.url).port) });
  t.after(() => directProxy.close());
  autoWelcome(direct, 'direct');
  const refused = await deadUrl();
  // The direct path: one URL refusing, one whose packets are dropped (a cut route).
  directProxy.cut();
  const s = start(
    [
      { name: 'direct', urls: [refused, directProxy.url] },
      { name: 'mesh', urls: [mesh.url] },
    ],
    { probePeriodMs: 300 },
  );
  t.after(s.stop);
  await until(() => s.paths.status().path === 'mesh');
  assert.deepEqual(s.paths.status().down, ['direct']);
  directProxy.heal();
  const healedAt = performance.now();
  await eventually(() => s.paths.status().path === 'direct', 3000);
  // A probe in flight on the cut path gives up after its 1 s timeout; the next comes within the period.
  assert.ok(performance.now() - healedAt < 1000 + 300 + 500);
  await until(() => meshConns.every((c) => c.ws.readyState === c.ws.CLOSED));
  assert.deepEqual(s.switches, [['mesh', 'direct']]);
  assert.equal(s.paths.status().switches, 1);
});

test('paths: a silent cut (packets dropped, no FIN) is noticed by the LC heartbeat and the next path serves', async (t) => {
  const direct = await fakeGm();
  const mesh = await fakeGm();
  t.after(() => Promise.all([direct.close(), mesh.close()]));
  autoWelcome(direct, 'direct');
  autoWelcome(mesh, 'mesh');
  const proxy = await blackhole({ host: '127.0.0.1', port: Number(new URL(direct.url).port) });
  t.after(() => proxy.close());
  const s = start(
    [
      { name: 'direct', urls: [proxy.url] },
      { name: 'mesh', urls: [mesh.url] },
    ],
    { heartbeat: [50, 200], probePeriodMs: 400 },
  );
  t.after(s.stop);
  await until(() => s.paths.status().path === 'direct');
  proxy.cut();
  const cutAt = performance.now();
  await until(() => s.paths.status().path === 'mesh');
  const took = performance.now() - cutAt;
  assert.ok(took >= 200, `switched after ${took} ms: not before the heartbeat timeout`);
  proxy.heal();
  await until(() => s.paths.status().path === 'direct');
  assert.deepEqual(s.switches, [
    ['direct', 'mesh'],
    ['mesh', 'direct'],
  ]);
});

test('paths: the fallback runs only while every GM path is down, and is stopped once a GM welcomes, before anything of the GM is applied', async (t) => {
  const gm = await fakeGm();
  t.after(() => gm.close());
  const proxy = await blackhole({ host: '127.0.0.1', port: Number(new URL(gm.url).port) });
  t.after(() => proxy.close());
  const conns: Conn[] = [];
  const fb = stubFallback();
  void (async () => {
    for (;;) {
      const c = await gm.next().catch(() => undefined);
      if (!c) return;
      conns.push(c);
      void c
        .frame('hello')
        .then(() => {
          fb.events.push(`hello (fallback ${fb.running ? 'running' : 'stopped'})`);
          c.send(welcome('resync', 'gm', 1));
          c.send(upsert(1, `x${conns.length}`));
        })
        .catch(() => {});
    }
  })();
  const s = start(
    [
      { name: 'direct', urls: [await deadUrl()] },
      { name: 'mesh', urls: [proxy.url] },
    ],
    {
      fallback: fb.runner,
      probePeriodMs: 300,
      applied: (names) => fb.events.push(`applied ${names} (fallback ${fb.running ? 'running' : 'stopped'})`),
    },
  );
  t.after(s.stop);
  await until(() => s.paths.status().path === 'mesh');
  await eventually(() => fb.events.length === 2, 2000);
  assert.deepEqual(fb.events, ['hello (fallback stopped)', 'applied x1 (fallback stopped)']);
  proxy.cut();
  await until(() => s.paths.status().path === 'fallback');
  assert.deepEqual(s.paths.status().down, ['direct', 'mesh']);
  proxy.heal();
  await until(() => s.paths.status().path === 'mesh');
  await eventually(() => fb.events.length === 6, 2000);
  // The probe's peer may be no GM: the fallback serves on until the welcome, then stops first.
  assert.deepEqual(fb.events, [
    'hello (fallback stopped)',
    'applied x1 (fallback stopped)',
    'run',
    'hello (fallback running)',
    'stopped',
    'applied x2 (fallback stopped)',
  ]);
  assert.deepEqual(s.switches, [
    ['mesh', 'fallback'],
    ['fallback', 'mesh'],
  ]);
});

test('paths: a GM verdict (4401) is no path failure: the same path waits its backoff, the next is not tried', async (t) => {
  const direct = await fakeGm();
  const mesh = await fakeGm();
  t.after(() => Promise.all([direct.close(), mesh.close()]));
  autoWelcome(mesh, 'mesh');
  void (async () => {
    for (;;) {
      const c = await direct.next().catch(() => undefined);
      if (!c) return;
      c.ws.close(4401, 'unauthenticated');
    }
  })();
  const s = start([
    { name: 'direct', urls: [direct.url] },
    { name: 'mesh', urls: [mesh.url] },
  ]);
  t.after(s.stop);
  await until(() => direct.accepted >= 1);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(direct.accepted, 1, 'at least AUTH_RETRY_MS before the next try');
  assert.equal(mesh.accepted, 0);
  assert.equal(s.paths.status().path, 'none');
});

test('paths: with everything down and no fallback, each path retries on its own backoff, capped at the probe period', async (t) => {
  const a = await deadUrl();
  const b = await deadUrl();
  const s = start(
    [
      { name: 'direct', urls: [a] },
      { name: 'mesh', urls: [b] },
    ],
    { probePeriodMs: 100 },
  );
  t.after(s.stop);
  await new Promise((r) => setTimeout(r, 600));
  const ofA = s.dials.filter((u) => u === a).length;
  const ofB = s.dials.filter((u) => u === b).length;
  // Every 70–90 ms each (plus the dial): about 6–8 in 600 ms, and never a tight loop.
  assert.ok(ofA >= 3 && ofA <= 9, `${ofA} dials of direct`);
  assert.ok(ofB >= 3 && ofB <= 9, `${ofB} dials of mesh`);
  assert.equal(s.paths.status().path, 'none');
});

test('paths: a forged GM (upgrades, then frames out of the protocol) is refused: nothing applied, the next path serves', async (t) => {
  const forged = await fakeGm();
  const mesh = await fakeGm();
  t.after(() => Promise.all([forged.close(), mesh.close()]));
  autoWelcome(mesh, 'mesh');
  void (async () => {
    for (;;) {
      const c = await forged.next().catch(() => undefined);
      if (!c) return;
      // An object before any welcome: a peer that is no GM.
      void c
        .frame('hello')
        .then(() => c.send({ type: 'object', seq: 1, op: 'delete', kind: 'Dataset', namespace: 'ns', name: 'x' }))
        .catch(() => {});
    }
  })();
  const s = start([
    { name: 'direct', urls: [forged.url] },
    { name: 'mesh', urls: [mesh.url] },
  ]);
  t.after(s.stop);
  await until(() => s.paths.status().path === 'mesh');
  assert.deepEqual(s.paths.status().down, ['direct']);
  assert.equal(s.link.status().connects, 1, 'only the mesh GM welcomed the LC');
});

test('paths: a peer that upgrades and is no GM, probed while the fallback serves, leaves the fallback running', async (t) => {
  const forged = await fakeGm();
  t.after(() => forged.close());
  void (async () => {
    for (;;) {
      const c = await forged.next().catch(() => undefined);
      if (!c) return;
      void c
        .frame('hello')
        .then(() => c.send(upsert(1, 'forged')))
        .catch(() => {});
    }
  })();
  const fb = stubFallback();
  const applied: string[] = [];
  const s = start(
    [
      { name: 'direct', urls: [await deadUrl()] },
      { name: 'mesh', urls: [forged.url] },
    ],
    { fallback: fb.runner, probePeriodMs: 300, applied: (names) => applied.push(...names) },
  );
  t.after(s.stop);
  await until(() => s.paths.status().path === 'fallback');
  await eventually(() => forged.accepted >= 4, 5000);
  assert.deepEqual(fb.events, ['run'], 'never stopped for a peer that did not welcome');
  assert.equal(s.paths.status().path, 'fallback');
  assert.deepEqual(s.switches, []);
  assert.deepEqual(applied, []);
});
