import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { looksLikePskMismatch } from '../errors.ts';
import { buildLibp2p } from '../transport/libp2p.ts';
import { generatePsk, parsePsk } from './psk.ts';
import { headerCheck, MULTISTREAM_HEADER, type PskMismatch } from './psk-guard.ts';

test('headerCheck: the multistream header, fed in any split, passes; the first wrong byte fails', () => {
  const cases = [
    { name: 'whole header', parts: [MULTISTREAM_HEADER], ok: true, complete: true },
    { name: 'byte by byte', parts: [...MULTISTREAM_HEADER].map((b) => Uint8Array.of(b)), ok: true, complete: true },
    {
      name: 'header and more',
      parts: [Uint8Array.of(...MULTISTREAM_HEADER, 7, '/'.charCodeAt(0))],
      ok: true,
      complete: true,
    },
    { name: 'a prefix', parts: [MULTISTREAM_HEADER.subarray(0, 5)], ok: true, complete: false },
    { name: 'garbage', parts: [Uint8Array.of(0x9f, 1, 2)], ok: false, complete: false },
    {
      name: 'wrong later byte',
      parts: [MULTISTREAM_HEADER.subarray(0, 10), Uint8Array.of(0)],
      ok: false,
      complete: false,
    },
  ];
  for (const c of cases) {
    const check = headerCheck();
    const ok = c.parts.every((p) => check.feed(p));
    assert.deepEqual({ ok, complete: check.complete }, { ok: c.ok, complete: c.complete }, c.name);
  }
});

test('a dial with another PSK is reported on the accepting side at once; the same PSK is not', async (t) => {
  const psk = parsePsk(generatePsk());
  const seen: PskMismatch[] = [];
  const node = async (key: Uint8Array, listen: string[], onPskMismatch?: (m: PskMismatch) => void) => {
    const { node } = await buildLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      psk: key,
      listen,
      mdns: false,
      isRelay: () => false,
      onPskMismatch,
    });
    await node.start();
    t.after(() => node.stop());
    return node;
  };
  const server = await node(psk, ['/ip4/127.0.0.1/tcp/0'], (m) => seen.push(m));
  const target = multiaddr(`${server.getMultiaddrs()[0]?.toString()}`);

  const friend = await node(psk, []);
  await friend.dial(target, { signal: AbortSignal.timeout(5_000) });
  assert.equal(seen.length, 0, 'no mismatch between nodes sharing the key');

  // Three: libp2p refuses a sixth inbound connection per second from one host (inboundConnectionThreshold).
  for (let i = 0; i < 3; i++) {
    const stranger = await node(parsePsk(generatePsk()), []);
    const t0 = performance.now();
    await assert.rejects(stranger.dial(target, { signal: AbortSignal.timeout(10_000) }), (err: unknown) =>
      looksLikePskMismatch(err),
    );
    // However the garbage decodes, the acceptor has decided by now (no upgrade timeout).
    assert.ok(performance.now() - t0 < 2_000, `rejected after ${performance.now() - t0} ms`);
    await stranger.stop();
  }
  assert.equal(seen.length, 3, JSON.stringify(seen));
  assert.ok(seen.every((m) => m.remoteAddr.startsWith('/ip4/127.0.0.1/tcp/')));
});
