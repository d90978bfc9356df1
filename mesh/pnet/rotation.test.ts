import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { ConnectionProtector, Libp2p } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { createKeyRing, type PskKeyRing } from './keyring.ts';
import { pskProtector } from './protector.ts';
import { generatePsk, parsePsk, parsePskKeys, pskFingerprint } from './psk.ts';

const OLD = parsePsk(generatePsk());
const NEW = parsePsk(generatePsk());
const OTHER = parsePsk(generatePsk());
const hexOf = (file: Uint8Array) => new TextDecoder().decode(file).split('\n')[2];

test('psk: a file may hold the new key then the old ones; go and @libp2p/pnet read the first', () => {
  const text = `/key/swarm/psk/1.0.0/\n/base16/\n${hexOf(NEW)}\n${hexOf(OLD)}\n`;
  const keys = parsePskKeys(text);
  assert.deepEqual(keys, [NEW, OLD]);
  assert.deepEqual(parsePskKeys(new TextDecoder().decode(OLD)), [OLD]);
  for (const bad of [
    `/key/swarm/psk/1.0.0/\n/base16/\n${hexOf(NEW)}\n${hexOf(NEW)}`,
    `/key/swarm/psk/1.0.0/\n/base16/\n${hexOf(NEW)}\nnot-hex`,
    `/key/swarm/psk/1.0.0/\n/base16/\n`,
    `/key/swarm/psk/1.0.0/\n/base16/\n${[1, 2, 3, 4, 5].map(() => randomBytes(32).toString('hex')).join('\n')}`,
  ]) {
    assert.throws(() => parsePskKeys(bad), { code: 'ERR_PSK_FILE' }, JSON.stringify(bad));
  }
});

test('keyring: a previous key is accepted for the window, then refused; the window survives a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'psk-ring-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const statePath = join(dir, 'psk-retired.json');
  const ring = createKeyRing({ keys: [OLD], windowMs: 60_000, statePath, now: () => now });
  t.after(() => ring.close());
  assert.deepEqual(
    ring.accepted().map((k) => k.id),
    [pskFingerprint(OLD)],
  );
  ring.update([NEW, OLD]);
  assert.deepEqual(
    ring.accepted().map((k) => k.id),
    [pskFingerprint(NEW), pskFingerprint(OLD)],
  );
  now += 30_000;
  // A restart half-way keeps the window's start.
  const again = createKeyRing({ keys: [NEW, OLD], windowMs: 60_000, statePath, now: () => now });
  t.after(() => again.close());
  assert.equal(again.status().previous[0]?.until, new Date(1_060_000).toISOString());
  now += 30_001;
  assert.deepEqual(
    ring.accepted().map((k) => k.id),
    [pskFingerprint(NEW)],
  );
  assert.deepEqual(
    again.accepted().map((k) => k.id),
    [pskFingerprint(NEW)],
  );
  // A key dropped from the file is refused at once; rolling back to it makes it current again.
  ring.update([NEW, OTHER]);
  ring.update([NEW]);
  assert.equal(ring.accepted().length, 1);
  ring.update([OLD, NEW]);
  assert.deepEqual(
    ring.accepted().map((k) => k.id),
    [pskFingerprint(OLD), pskFingerprint(NEW)],
  );
});

type Protector = () => ConnectionProtector;

async function node(protector: Protector): Promise<Libp2p> {
  const n = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: protector,
    // Every node here dials from 127.0.0.1, and libp2p refuses a sixth inbound connection per second
    // from one host: on a fast run `rolled` took a dozen within a second and reset the next at accept,
    // failing a dial that should work (and passing a refusal for the wrong reason).
    connectionManager: { inboundConnectionThreshold: Number.POSITIVE_INFINITY },
  });
  await n.handle('/echo/1.0.0', async (stream) => {
    for await (const chunk of stream) if (!stream.send(chunk)) await stream.onDrain();
    await stream.close();
  });
  return n;
}

/** Dials `to` from `from` and echoes 64 KiB; resolves true when it all came back. */
async function works(from: Libp2p, to: Libp2p): Promise<boolean> {
  await from.hangUp(to.peerId).catch(() => {});
  await to.hangUp(from.peerId).catch(() => {});
  try {
    const stream = await from.dialProtocol(to.getMultiaddrs(), '/echo/1.0.0', { signal: AbortSignal.timeout(5_000) });
    const data = randomBytes(64 * 1024);
    const parts: Uint8Array[] = [];
    let have = 0;
    const back = (async () => {
      for await (const chunk of stream) {
        parts.push(Uint8Array.from(chunk.subarray()));
        have += chunk.byteLength;
        if (have >= data.length) break;
      }
    })();
    stream.send(data);
    await back;
    await stream.close().catch(() => {});
    return Buffer.concat(parts).equals(data);
  } catch {
    return false;
  }
}

/** Polls `cond` until it holds or `ms` pass (a bound for a broken build, not a timing claim). */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await sleep(20);
}

test('rotation: both keys accepted in the window, each side dials with a key the other holds, the old refused after', async (t) => {
  // The window is ended by hand below: a timed window raced the steps inside it on a loaded machine.
  const ring: PskKeyRing = createKeyRing({ keys: [OLD], windowMs: 600_000 });
  t.after(() => ring.close());
  const rolled = await node(pskProtector({ ring }));
  const notYet = await node(pskProtector({ psk: OLD })); // has not loaded the new file yet
  const done = await node(pskProtector({ psk: NEW })); // only the new key
  const stockOld = await node(preSharedKey({ psk: OLD }) as unknown as Protector);
  const stockNew = await node(preSharedKey({ psk: NEW }) as unknown as Protector);
  const stranger = await node(pskProtector({ psk: OTHER }));
  t.after(() => Promise.all([rolled, notYet, done, stockOld, stockNew, stranger].map((n) => n.stop())));

  // Before the roll: a one-key node, with the stock protector both ways (interop stays).
  assert.ok(await works(rolled, stockOld), 'ours → stock, one key');
  assert.ok(await works(stockOld, rolled), 'stock → ours, one key');

  // A connection on the old key, kept open across the roll.
  const old = await rolled.dial(notYet.getMultiaddrs());
  ring.update([NEW, OLD]);
  assert.ok(await works(rolled, notYet), 'rolled → not yet rolled: the hint picks the old key');
  assert.ok(await works(notYet, rolled), 'not yet rolled → rolled: trial decryption finds the old key');
  assert.ok(await works(rolled, done), 'rolled → new only');
  assert.ok(await works(done, rolled), 'new only → rolled');
  assert.ok(await works(stockOld, rolled), 'stock (old) → rolled');
  assert.ok(await works(stockNew, rolled), 'stock (new) → rolled');
  assert.ok(await works(rolled, stockNew), 'rolled → stock (new): no hint, the current key');
  assert.ok(!(await works(stranger, rolled)), 'a wrong key is refused');
  assert.ok(!(await works(rolled, stranger)), 'a wrong key is refused (dialing)');

  const kept = await rolled.dial(notYet.getMultiaddrs());
  assert.equal(kept.status, 'open');
  // The operator shortens the window (a config reload): it is over at once for the old key.
  ring.update([NEW, OLD], 1);
  await until(() => kept.status !== 'open' && old.status !== 'open', 10_000);
  assert.notEqual(kept.status, 'open', 'a connection on the old key is closed when the window ends');
  assert.notEqual(old.status, 'open');
  assert.ok(!(await works(notYet, rolled)), 'after the window the old key is refused');
  assert.ok(!(await works(rolled, notYet)), 'and not dialled with');
  assert.ok(!(await works(stockOld, rolled)), 'stock (old) refused too');
  assert.ok(await works(done, rolled), 'the new key still works');
  assert.ok(await works(rolled, stockNew), 'the new key still works (stock)');
});
