import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ReadinessFileLoopInit, runReadinessFileLoop } from './index.ts';
import { defer } from './testing/defer.ts';
import { tempDir, waitForMatch } from './testing/keepalived.ts';

type Mode = 'ready' | 'unavailable' | 'error' | 'redirect' | 'hang';

interface FakeGm {
  url: string;
  set(mode: Mode): void;
  /** Requests received so far. */
  requests(): number;
  /** Stops listening: later polls are refused. */
  close(): Promise<void>;
}

/** A stand-in GM on 127.0.0.1 whose /readyz answer the test flips. */
async function fakeGm(t: TestContext): Promise<FakeGm> {
  let mode: Mode = 'ready';
  let requests = 0;
  const hung: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    requests++;
    if (mode === 'hang') {
      hung.push(res);
      return;
    }
    const status = { ready: 200, unavailable: 503, error: 500, redirect: 302 }[mode];
    if (mode === 'redirect') res.setHeader('location', '/elsewhere');
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> => {
    if (!server.listening) return Promise.resolve();
    for (const r of hung) r.destroy();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return closed;
  };
  defer(t, close);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/readyz`,
    set: (m) => {
      mode = m;
    },
    requests: () => requests,
    close,
  };
}

/** Starts the loop with fast ticks and stops it after `t`. */
function startLoop(t: TestContext, init: Omit<ReadinessFileLoopInit, 'signal'>): { stop(): Promise<void> } {
  const ac = new AbortController();
  const done = runReadinessFileLoop({ intervalMs: 20, fetchTimeoutMs: 100, ...init, signal: ac.signal });
  const stop = async (): Promise<void> => {
    ac.abort();
    await done;
  };
  defer(t, stop);
  return { stop };
}

/** The file's content, or '' while it does not exist yet. */
function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

test('writes 0 while /readyz answers 200 and 1 after it flips to 503, and back', async (t) => {
  const gm = await fakeGm(t);
  const path = join(tempDir(t), 'ready');
  startLoop(t, { url: gm.url, path });
  await waitForMatch(() => read(path), /^0\n$/, 2_000);
  gm.set('unavailable');
  await waitForMatch(() => read(path), /^1\n$/, 2_000);
  gm.set('ready');
  await waitForMatch(() => read(path), /^0\n$/, 2_000);
});

const notReady: { name: string; apply: (gm: FakeGm) => void | Promise<void> }[] = [
  { name: '503 Service Unavailable', apply: (gm) => gm.set('unavailable') },
  { name: '500 Internal Server Error', apply: (gm) => gm.set('error') },
  { name: '302 redirect (not followed)', apply: (gm) => gm.set('redirect') },
  { name: 'no answer within fetchTimeoutMs', apply: (gm) => gm.set('hang') },
  { name: 'connection refused', apply: (gm) => gm.close() },
];

for (const c of notReady) {
  test(`not ready: ${c.name}`, async (t) => {
    const gm = await fakeGm(t);
    const path = join(tempDir(t), 'ready');
    startLoop(t, { url: gm.url, path });
    await waitForMatch(() => read(path), /^0\n$/, 2_000);
    await c.apply(gm);
    await waitForMatch(() => read(path), /^1\n$/, 2_000);
  });
}

test('rewrites the file on every tick, so a reset by keepalived (init_file overwrite) is repaired', async (t) => {
  const gm = await fakeGm(t);
  const path = join(tempDir(t), 'ready');
  startLoop(t, { url: gm.url, path });
  await waitForMatch(() => read(path), /^0\n$/, 2_000);
  // keepalived writes 1 when it (re)starts although readiness did not change.
  writeFileSync(path, '1\n');
  await waitForMatch(() => read(path), /^0\n$/, 2_000);
  // Every tick replaces the file, not only on change. Inode numbers get reused, but the new file
  // is created while the old one still exists, so consecutive files always differ.
  // Behaviour, not timing: the readiness did not change, yet the file keeps being replaced. The
  // deadline only bounds a broken loop; on a loaded machine ticks come late, not never.
  let replacements = 0;
  let last = statSync(path).ino;
  const until = performance.now() + 10_000;
  while (replacements < 5 && performance.now() < until) {
    const ino = statSync(path).ino;
    if (ino !== last) replacements++;
    last = ino;
    await sleep(5);
  }
  assert.ok(
    replacements >= 5,
    `expected the file replaced on every tick without a change, saw ${replacements} in 10 s`,
  );
});

test('a reader never sees a missing, empty or partial file', async (t) => {
  const gm = await fakeGm(t);
  const path = join(tempDir(t), 'ready');
  startLoop(t, { url: gm.url, path, intervalMs: 10 });
  await waitForMatch(() => read(path), /^[01]\n$/, 2_000);
  const seen = new Set<string>();
  // Race for at least 500 ms, and on a loaded machine until both values were read (10 s at most).
  const until = performance.now() + 500;
  const deadline = performance.now() + 10_000;
  let flips = 0;
  while ((performance.now() < until || seen.size < 2) && performance.now() < deadline) {
    // Synchronous reads in a tight loop race the writer as hard as a single thread can.
    for (let i = 0; i < 200; i++) seen.add(readFileSync(path, 'utf8'));
    gm.set(flips++ % 2 === 0 ? 'unavailable' : 'ready');
    await sleep(7);
  }
  assert.deepEqual([...seen].sort(), ['0\n', '1\n']);
});

test('resolves promptly on abort, even during a hung poll, and leaves 1 and no temp file', async (t) => {
  const gm = await fakeGm(t);
  const dir = tempDir(t);
  const path = join(dir, 'ready');
  const loop = startLoop(t, { url: gm.url, path, fetchTimeoutMs: 60_000 });
  await waitForMatch(() => read(path), /^0\n$/, 2_000);
  gm.set('hang');
  const before = gm.requests();
  await waitForMatch(() => String(gm.requests() > before), /true/, 2_000);
  const started = performance.now();
  await loop.stop();
  assert.ok(performance.now() - started < 500, 'stopping must not wait for the hung poll');
  assert.equal(read(path), '1\n');
  assert.deepEqual(readdirSync(dir), ['ready']);
});

test('an already aborted signal resolves at once and reports not ready', async (t) => {
  const gm = await fakeGm(t);
  const path = join(tempDir(t), 'ready');
  await runReadinessFileLoop({ url: gm.url, path, signal: AbortSignal.abort() });
  assert.equal(read(path), '1\n');
  assert.equal(gm.requests(), 0);
});

test('rejects when the file cannot be written', async (t) => {
  const gm = await fakeGm(t);
  const path = join(tempDir(t), 'missing-dir', 'ready');
  await assert.rejects(runReadinessFileLoop({ url: gm.url, path, signal: new AbortController().signal }), {
    code: 'ENOENT',
  });
});

const badOptions: { name: string; init: Partial<ReadinessFileLoopInit>; field: string }[] = [
  { name: 'url not a URL', init: { url: 'not a url' }, field: 'url' },
  { name: 'ftp url', init: { url: 'ftp://127.0.0.1/readyz' }, field: 'url' },
  { name: 'relative path', init: { path: 'run/ready' }, field: 'path' },
  { name: 'path is a directory', init: { path: '/run/' }, field: 'path' },
  { name: 'intervalMs 0', init: { intervalMs: 0 }, field: 'intervalMs' },
  { name: 'intervalMs 5 (below 10)', init: { intervalMs: 5 }, field: 'intervalMs' },
  { name: 'intervalMs 20.5', init: { intervalMs: 20.5 }, field: 'intervalMs' },
  { name: 'fetchTimeoutMs 0', init: { fetchTimeoutMs: 0 }, field: 'fetchTimeoutMs' },
  { name: 'fetchTimeoutMs NaN', init: { fetchTimeoutMs: Number.NaN }, field: 'fetchTimeoutMs' },
];

for (const c of badOptions) {
  test(`rejects bad options: ${c.name}`, async () => {
    const init = {
      url: 'http://127.0.0.1:1/readyz',
      path: '/nonexistent/ready',
      signal: AbortSignal.abort(),
      ...c.init,
    };
    await assert.rejects(runReadinessFileLoop(init), {
      name: 'KeepalivedOptionError',
      code: 'ERR_CONFIG',
      field: c.field,
    });
  });
}
