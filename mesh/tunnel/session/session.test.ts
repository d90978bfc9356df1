import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { memoryPathPair } from './memory-path.ts';
import { type SessionInit, TunnelSession } from './session.ts';

function pair(init: Partial<SessionInit> = {}) {
  const closed = { a: undefined as Error | undefined | 'open', b: undefined as Error | undefined | 'open' };
  closed.a = 'open';
  closed.b = 'open';
  const a = new TunnelSession({ id: 's', ...init, onClosed: (e) => (closed.a = e) });
  const b = new TunnelSession({ id: 's', ...init, onClosed: (e) => (closed.b = e) });
  const connect = () => {
    const p = memoryPathPair();
    // Each side reports what it has received, as the tunnel's resume header does.
    const ra = a.received;
    const rb = b.received;
    a.attach(p.a, rb);
    b.attach(p.b, ra);
    return p;
  };
  return { a, b, closed, connect };
}

async function readAll(d: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of d) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function writeAll(d: NodeJS.WritableStream, data: Buffer, chunk: number): Promise<void> {
  for (let i = 0; i < data.length; i += chunk) {
    if (!d.write(data.subarray(i, i + chunk))) await once(d, 'drain');
  }
  d.end();
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('both directions complete over one path, and both sides close cleanly', async () => {
  const { a, b, closed, connect } = pair();
  connect();
  const up = randomBytes(300_000);
  const down = randomBytes(200_000);
  const [gotB, gotA] = await Promise.all([
    readAll(b.duplex),
    readAll(a.duplex),
    writeAll(a.duplex, up, 10_000),
    writeAll(b.duplex, down, 7_000),
  ]);
  assert.equal(sha(gotB), sha(up));
  assert.equal(sha(gotA), sha(down));
  for (let i = 0; i < 50 && (closed.a === 'open' || closed.b === 'open'); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(closed.a, undefined);
  assert.equal(closed.b, undefined);
  assert.equal(a.state, 'done');
  assert.equal(b.state, 'done');
});

test('a transfer survives its path being killed again and again, byte for byte', async () => {
  const { a, b, connect } = pair({ bufferBytes: 256 * 1024, ackEvery: 32 * 1024 });
  let path = connect();
  const up = randomBytes(3_000_000);
  const down = randomBytes(1_000_000);
  let kills = 0;
  const killer = setInterval(() => {
    path.kill();
    kills++;
    // The initiator notices and reattaches on a fresh path, as the tunnel does through another relay.
    setTimeout(() => {
      path = connect();
    }, 5);
  }, 15);
  try {
    const [gotB, gotA] = await Promise.all([
      readAll(b.duplex),
      readAll(a.duplex),
      writeAll(a.duplex, up, 16_384),
      writeAll(b.duplex, down, 1_000),
    ]);
    assert.equal(gotB.length, up.length);
    assert.equal(sha(gotB), sha(up));
    assert.equal(sha(gotA), sha(down));
  } finally {
    clearInterval(killer);
  }
  assert.ok(kills >= 2, `path was killed ${kills} times`);
  assert.ok(a.attachments >= 3);
});

test('writes block once bufferBytes are unacknowledged, and resume after a path attaches', async () => {
  const { a, b, connect } = pair({ bufferBytes: 64 * 1024 });
  let accepted = 0;
  const data = Buffer.alloc(16 * 1024, 1);
  const writer = (async () => {
    for (let i = 0; i < 16; i++) {
      await new Promise<void>((resolve, reject) => a.duplex.write(data, (e) => (e ? reject(e) : resolve())));
      accepted++;
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  // 64 KiB may be held; the write that crosses the bound waits.
  assert.ok(accepted <= 5, `accepted ${accepted} writes without a path`);
  assert.equal(a.unacked <= 64 * 1024 + data.length, true);
  connect();
  const reader = (async () => {
    let n = 0;
    for await (const c of b.duplex) {
      n += (c as Buffer).length;
      if (n >= 16 * data.length) return n;
    }
    return n;
  })();
  await writer;
  assert.equal(await reader, 16 * data.length);
  b.duplex.on('error', () => {});
  a.duplex.on('error', () => {});
  a.abort(new Error('done'));
});

test('a resume offset the peer cannot have is a protocol error', () => {
  const a = new TunnelSession({ id: 's' });
  const errors: Error[] = [];
  a.duplex.on('error', (e) => errors.push(e));
  const p = memoryPathPair();
  a.attach(p.a, 10); // we never sent 10 bytes
  assert.equal(a.state, 'failed');
});

test('an abort on one side reaches the other as ERR_TUNNEL_RESET', async () => {
  const { a, b, connect } = pair();
  connect();
  const err = once(b.duplex, 'error');
  a.duplex.on('error', () => {});
  a.abort(new Error('target connection refused'));
  const [e] = await err;
  assert.equal((e as { code: string }).code, 'ERR_TUNNEL_RESET');
  assert.equal(b.state, 'failed');
});

test('a silent path is declared dead; a session with no path fails after the resume timeout', async () => {
  const detached: Error[] = [];
  const a = new TunnelSession({
    id: 's',
    keepaliveMs: 20,
    pathDeadMs: 80,
    resumeTimeoutMs: 150,
    onDetached: (e) => detached.push(e),
  });
  const failed = once(a.duplex, 'error');
  const p = memoryPathPair();
  a.attach(p.a, 0); // nobody answers on p.b
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(detached.length, 1);
  const [e] = await failed;
  assert.equal((e as { code: string }).code, 'ERR_SESSION_LOST');
});
