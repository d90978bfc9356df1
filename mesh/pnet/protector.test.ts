import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { ConnectionProtector, MessageStream } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddrConnectionPair } from '@libp2p/utils';
import { createLibp2p } from 'libp2p';
import { looksLikePskMismatch } from '../errors.ts';
import { decodeV1Psk, NONCE_LENGTH, pskProtector } from './protector.ts';
import { generatePsk, parsePsk } from './psk.ts';
import { XSalsa20 } from './xsalsa20.ts';

const PSK = parsePsk(generatePsk());
const OTHER = parsePsk(generatePsk());
type Factory = (init: { psk: Uint8Array }) => () => ConnectionProtector;
const ours: Factory = (init) => pskProtector(init);
const stock: Factory = (init) => preSharedKey(init) as unknown as () => ConnectionProtector;

/** Collects what a stream delivers until `n` bytes arrived. */
function collect(s: MessageStream, n: number): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const parts: Uint8Array[] = [];
    let have = 0;
    s.addEventListener('message', (evt) => {
      const d = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray();
      parts.push(Uint8Array.from(d));
      have += d.length;
      if (have >= n) resolve(Buffer.concat(parts));
    });
  });
}

/** Sends `data` in pieces of assorted sizes, honouring backpressure. */
async function sendAll(s: MessageStream, data: Uint8Array): Promise<void> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = Math.min([1, 100, 4096, 65_536, 200_000, 7][i % 6] as number, data.length - at);
    if (!s.send(data.slice(at, at + n))) await new Promise((r) => s.addEventListener('drain', r, { once: true }));
    at += n;
  }
}

test('pnet: interoperates with @libp2p/pnet both ways, byte for byte', async () => {
  const cases = [
    { name: 'ours dials stock', a: ours, b: stock },
    { name: 'stock dials ours', a: stock, b: ours },
    { name: 'ours both ends', a: ours, b: ours },
  ];
  for (const c of cases) {
    const [outbound, inbound] = multiaddrConnectionPair();
    const [pa, pb] = await Promise.all([c.a({ psk: PSK })().protect(outbound), c.b({ psk: PSK })().protect(inbound)]);
    const ab = randomBytes(600_000);
    const ba = randomBytes(300_001);
    const [gotB, gotA] = await Promise.all([
      collect(pb, ab.length),
      collect(pa, ba.length),
      sendAll(pa, ab),
      sendAll(pb, ba),
    ]);
    assert.deepEqual(Buffer.from(gotB), ab, `${c.name}: a → b`);
    assert.deepEqual(Buffer.from(gotA), ba, `${c.name}: b → a`);
  }
});

test('pnet: the wire is a 24-byte nonce, then the XSalsa20 keystream of (nonce, key) XORed over the bytes', async () => {
  const [outbound, inbound] = multiaddrConnectionPair();
  const raw = collect(inbound, NONCE_LENGTH + 5);
  const remoteNonce = randomBytes(NONCE_LENGTH);
  inbound.send(remoteNonce);
  const protectedConn = await ours({ psk: PSK })().protect(outbound);
  protectedConn.send(new TextEncoder().encode('hello'));
  const bytes = await raw;
  const body = Uint8Array.from(bytes.subarray(NONCE_LENGTH));
  new XSalsa20(bytes.subarray(0, NONCE_LENGTH), decodeV1Psk(PSK)).update(body);
  assert.equal(new TextDecoder().decode(body), 'hello');
});

test('pnet: another PSK yields garbage, not data', async () => {
  const [outbound, inbound] = multiaddrConnectionPair();
  const [pa, pb] = await Promise.all([
    ours({ psk: PSK })().protect(outbound),
    stock({ psk: OTHER })().protect(inbound),
  ]);
  const sent = randomBytes(1000);
  const got = collect(pb, sent.length);
  pa.send(sent);
  assert.notDeepEqual(Buffer.from(await got), sent);
});

test('pnet: PSK files other than v1 base16 are refused', () => {
  for (const text of ['', 'secret', '/key/swarm/psk/1.0.0/\n/base64/\nAAAA']) {
    assert.throws(() => decodeV1Psk(new TextEncoder().encode(text)), { code: 'ERR_PSK_FILE' }, JSON.stringify(text));
  }
});

async function node(protector: Factory, psk: Uint8Array) {
  const n = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: protector({ psk }),
  });
  await n.handle('/echo/1.0.0', async (stream) => {
    for await (const chunk of stream) if (!stream.send(chunk)) await stream.onDrain();
    await stream.close();
  });
  return n;
}

test('pnet: a libp2p node with ours and one with @libp2p/pnet connect, and a wrong PSK fails the handshake', async (t) => {
  const a = await node(ours, PSK);
  const b = await node(stock, PSK);
  const c = await node(stock, OTHER);
  t.after(() => Promise.all([a.stop(), b.stop(), c.stop()]));
  for (const [name, from, to] of [
    ['ours → stock', a, b],
    ['stock → ours', b, a],
  ] as const) {
    const stream = await from.dialProtocol(to.getMultiaddrs(), '/echo/1.0.0');
    const data = randomBytes(256 * 1024);
    const back = collect(stream, data.length);
    await sendAll(stream, data);
    assert.deepEqual(Buffer.from(await back), data, name);
    await stream.close();
  }
  const err = await a.dial(c.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, 'dial with another PSK must fail');
  assert.ok(looksLikePskMismatch(err), `a PSK mismatch is recognisable: ${(err as Error).name}`);
});
