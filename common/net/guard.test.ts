import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRegistry } from '../metrics.ts';
import { guardHttpServer, guardListener, validateLimits } from './guard.ts';

const log = pino({ level: 'silent' });

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Connects from `source`: other sources are other loopback addresses bound as the local end. */
async function connectFrom(port: number, source: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress: source });
  await once(s, 'connect');
  return s;
}

/** Resolves when the peer closed the connection (or it failed), with the bytes it sent. */
function closedBy(sock: Socket): Promise<string> {
  let data = '';
  sock.on('data', (d) => {
    data += d;
  });
  sock.on('error', () => {});
  return new Promise((resolve) => sock.once('close', () => resolve(data)));
}

test('connections beyond the per-source and total limits are closed at accept and counted', async (t) => {
  const registry = createRegistry();
  const held: Socket[] = [];
  const server = createServer((s) => held.push(s));
  guardListener(
    server,
    't',
    { maxConnections: 3, maxConnectionsPerSource: 2, handshakeTimeoutMs: 60_000 },
    {
      registry,
      log,
    },
  );
  const port = await listen(server);
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  const open = (source: string) => connectFrom(port, source);
  const a = await open('127.0.0.1');
  const b = await open('127.0.0.1');
  const c = await open('127.0.0.1');
  assert.equal(await closedBy(c), '', 'the third connection from one address is closed');
  const d = await open('127.0.0.2');
  const e = await open('127.0.0.3');
  await closedBy(e);
  assert.match(registry.render(), /fedmesh_listener_refused_total\{listener="t",reason="per-source"\} 1/);
  assert.match(registry.render(), /fedmesh_listener_refused_total\{listener="t",reason="total"\} 1/);
  // Closing one frees its slot.
  a.destroy();
  await new Promise((r) => setTimeout(r, 50));
  const f = await open('127.0.0.1');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.destroyed, false);
  for (const s of [b, d, f]) s.destroy();
});

test('a connection that does not finish its handshake in time is destroyed; a settled one stays', async (t) => {
  const registry = createRegistry();
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  const guard = guardListener(
    server,
    't',
    { maxConnections: 10, maxConnectionsPerSource: 10, handshakeTimeoutMs: 150 },
    {
      registry,
      log,
    },
  );
  const port = await listen(server);
  t.after(() => server.close());
  const idle = connect(port, '127.0.0.1');
  const settled = connect(port, '127.0.0.1');
  await Promise.all([once(idle, 'connect'), once(settled, 'connect')]);
  while (accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
  guard.settle(accepted[1] as Socket);
  await closedBy(idle);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(settled.destroyed, false, 'a settled connection is left alone');
  assert.match(registry.render(), /fedmesh_listener_handshake_timeouts_total\{listener="t"\} 1/);
  assert.equal(guard.open(), 1);
  settled.destroy();
});

test('HTTP: a slow-header sender is cut at the deadline; normal requests are served', async (t) => {
  const registry = createRegistry();
  const server = createHttpServer((_req, res) => res.end('ok'));
  guardHttpServer(
    server,
    'http',
    { maxConnections: 10, maxConnectionsPerSource: 10, handshakeTimeoutMs: 300 },
    {
      registry,
      log,
    },
  );
  const port = await listen(server);
  t.after(() => server.close());
  const slow = connect(port, '127.0.0.1');
  const done = closedBy(slow);
  slow.write('GET / HTTP/1.1\r\n');
  const drip = setInterval(() => slow.write('x-a: b\r\n'), 100);
  const started = performance.now();
  await done;
  clearInterval(drip);
  assert.ok(performance.now() - started < 5000, 'closed at the handshake deadline, not at Node defaults');
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), 'ok');
});

test('limits must be positive integers', () => {
  assert.throws(() => validateLimits({ maxConnections: 0, maxConnectionsPerSource: 1, handshakeTimeoutMs: 1 }), {
    name: 'ConfigError',
  });
});

test('an exempt source (a local proxy such as the mesh sidecar) counts only toward the total', async (t) => {
  const registry = createRegistry();
  const held: Socket[] = [];
  const server = createServer((s) => held.push(s));
  guardListener(
    server,
    't',
    { maxConnections: 5, maxConnectionsPerSource: 1, handshakeTimeoutMs: 60_000, perSourceExempt: ['127.0.0.1'] },
    { registry, log },
  );
  const port = await listen(server);
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  const open = (source: string) => connectFrom(port, source);
  const exempt = [await open('127.0.0.1'), await open('127.0.0.1'), await open('127.0.0.1')];
  const other = await open('127.0.0.2');
  assert.equal(await closedBy(await open('127.0.0.2')), '', 'other sources keep their per-source limit');
  exempt.push(await open('127.0.0.1'));
  assert.equal(await closedBy(await open('127.0.0.1')), '', 'the total still holds for the exempt source');
  await new Promise((r) => setTimeout(r, 50));
  for (const s of [...exempt, other]) assert.equal(s.destroyed, false);
  assert.match(registry.render(), /fedmesh_listener_refused_total\{listener="t",reason="per-source"\} 1/);
  assert.match(registry.render(), /fedmesh_listener_refused_total\{listener="t",reason="total"\} 1/);
  for (const s of [...exempt, other]) s.destroy();
});

test('exempt sources must be IP addresses', () => {
  assert.throws(
    () =>
      validateLimits({
        maxConnections: 1,
        maxConnectionsPerSource: 1,
        handshakeTimeoutMs: 1,
        perSourceExempt: ['sidecar'],
      }),
    { name: 'ConfigError' },
  );
});
