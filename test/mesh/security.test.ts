/**
 * The mesh's gates: a node with the wrong PSK connects to no one (and both sides say why), and the tunnel
 * responder refuses — and logs — every malformed or disallowed request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { TUNNEL_PROTOCOL } from '../../mesh/constants.ts';
import { generatePsk, parsePsk } from '../../mesh/pnet/psk.ts';
import { frame, readMessage } from '../../mesh/stream-io.ts';
import { buildLibp2p } from '../../mesh/transport/libp2p.ts';
import { createMeshLab, type LogLine, until } from './harness.ts';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/fedmesh.ts');

test('a node with the wrong PSK connects to no one, and both sides report a PSK mismatch', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'c'] });
  t.after(() => m.destroy());
  const r1 = await m.start('r1', { relays: ['r1'] });
  const a1 = await m.start('a1', { relays: ['r1'] });
  const wrongPsk = join(m.dir, 'wrong-psk');
  writeFileSync(wrongPsk, generatePsk(), { mode: 0o600 });
  const c = await m.start('c', { relays: ['r1'], pskFile: wrongPsk });
  const warned = await c.waitLog((l) => l.code === 'ERR_PSK_MISMATCH', 15_000);
  assert.equal(warned.relay, 'r1');
  // Give it time to try everything it knows (relay, DHT bootstrap, mDNS on the public segment).
  await new Promise((r) => setTimeout(r, 3_000));
  assert.deepEqual((await c.status()).peers, []);
  for (const p of [r1, a1]) {
    const s = await p.status();
    assert.equal(s.peers.filter((x) => x.node === 'c').length, 0, `${p.name} has no connection to c`);
  }
  const cPeer = c.logs().find((l) => l.msg === 'mesh node started')?.peer as string;
  assert.equal((await r1.status()).peers.filter((x) => (x as { peer?: string }).peer === cPeer).length, 0);

  // The accepting side says so too: a log line naming the remote address, and a counter.
  const accepted = await r1.waitLog((l) => l.code === 'ERR_PSK_MISMATCH', 5_000);
  assert.equal(accepted.direction, 'inbound');
  assert.match(String(accepted.remote), new RegExp(`^/ip4/${m.addr('c').replaceAll('.', '\\.')}/tcp/`));
  const metrics = await r1.host.exec('curl', ['-fsS', '-m', '2', 'http://127.0.0.1:9100/metrics']);
  const inbound = /^fedmesh_mesh_psk_mismatch_total\{direction="inbound"\} (\d+)$/m.exec(metrics.stdout);
  assert.ok(inbound && Number(inbound[1]) >= 1, `inbound mismatches counted:\n${metrics.stdout}`);
  // c, dialing with its wrong key, counts its side as outbound mismatches.
  const cMetrics = await c.host.exec('curl', ['-fsS', '-m', '2', 'http://127.0.0.1:9100/metrics']);
  assert.match(cMetrics.stdout, /^fedmesh_mesh_psk_mismatch_total\{direction="outbound"\} [1-9]/m);
});

test('malformed, oversized, misaddressed and disallowed tunnel requests are refused and logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-sec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pskText = generatePsk();
  writeFileSync(join(dir, 'psk'), pskText, { mode: 0o600 });
  const port = await freePort();
  const logFile = join(dir, 'node.log');
  const proc = spawnManaged({
    name: 'mesh-target',
    cmd: process.execPath,
    args: [
      CLI,
      'mesh',
      '--node',
      'target',
      '--state-dir',
      join(dir, 'state'),
      '--psk-file',
      join(dir, 'psk'),
      '--listen',
      `127.0.0.1:${port}`,
      '--no-mdns',
    ],
    logFile,
  });
  t.after(() => proc.stop('SIGTERM', 5_000));
  const logs = (): LogLine[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  const started = await until(
    'the node to start',
    () => {
      if (!proc.running()) throw new Error(`the node exited: ${readFileSync(logFile, 'utf8').slice(-500)}`);
      try {
        return logs().find((l) => l.msg === 'mesh node started');
      } catch {
        return undefined;
      }
    },
    20_000,
  );

  const { node: client } = await buildLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    psk: parsePsk(pskText),
    listen: [],
    mdns: false,
    isRelay: () => false,
  });
  await client.start();
  t.after(() => client.stop());
  const target = multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${started.peer as string}`);

  const send = async (bytes: Uint8Array) => {
    const stream = await client.dialProtocol(target, TUNNEL_PROTOCOL);
    stream.send(bytes);
    const reply = JSON.parse(new TextDecoder().decode(await readMessage(stream, 4096, AbortSignal.timeout(5_000))));
    await stream.close().catch(() => {});
    return reply as { ok: boolean; reason?: string };
  };
  const json = (v: unknown) => frame(new TextEncoder().encode(JSON.stringify(v)));
  const session = randomBytes(16).toString('hex');
  const oversized = new Uint8Array(4);
  new DataView(oversized.buffer).setUint32(0, 1 << 20);
  const cases = [
    { name: 'not JSON', bytes: frame(new TextEncoder().encode('{"v":1,')), reason: 'malformed' },
    {
      name: 'unknown field',
      bytes: json({ v: 1, op: 'open', session, node: 'target', host: '127.0.0.1', port: 1, x: 1 }),
      reason: 'malformed',
    },
    { name: 'unknown op', bytes: json({ v: 1, op: 'connect', session }), reason: 'malformed' },
    {
      name: 'bad session id',
      bytes: json({ v: 1, op: 'open', session: 'x', node: 'target', host: '127.0.0.1', port: 1 }),
      reason: 'malformed',
    },
    { name: 'oversized header', bytes: oversized, reason: 'oversized' },
    {
      name: 'another node',
      bytes: json({ v: 1, op: 'open', session, node: 'elsewhere', host: '127.0.0.1', port: 22 }),
      reason: 'unknown-node',
    },
    {
      name: 'target outside the allow-list',
      bytes: json({ v: 1, op: 'open', session, node: 'target', host: '198.18.0.1', port: 80 }),
      reason: 'target-not-allowed',
    },
    {
      name: 'host name target',
      bytes: json({ v: 1, op: 'open', session, node: 'target', host: 'localhost', port: 80 }),
      reason: 'target-not-allowed',
    },
    {
      name: 'nothing listening',
      bytes: json({ v: 1, op: 'open', session, node: 'target', host: '127.0.0.1', port: 1 }),
      reason: 'dial-failed',
    },
    {
      name: 'resume of an unknown session',
      bytes: json({ v: 1, op: 'resume', session, received: 0 }),
      reason: 'unknown-session',
    },
  ];
  for (const c of cases) {
    const reply = await send(c.bytes);
    assert.deepEqual({ ok: reply.ok, reason: reply.reason }, { ok: false, reason: c.reason }, c.name);
  }
  const refused = await until(
    'every refusal in the log',
    () => {
      const r = logs().filter((l) => l.msg === 'tunnel request refused');
      return r.length >= cases.length ? r : undefined;
    },
    5_000,
  );
  assert.deepEqual(
    refused.map((l) => l.reason),
    cases.map((c) => c.reason),
  );
  assert.ok(refused.every((l) => l.code === 'ERR_TUNNEL_REFUSED' && l.peer === client.peerId.toString()));
  assert.equal(proc.running(), true, 'the node survived every request');
});
