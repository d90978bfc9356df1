import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createDirectory } from './directory.ts';
import { type NodeRecord, signRecord, verifyRecord } from './record.ts';

async function node(name: string, seq = 1) {
  const key = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(key).toString();
  const record: NodeRecord = { v: 1, name, peerId, addrs: ['/ip4/198.18.0.1/tcp/20006'], relay: false, seq };
  return { key, peerId, record, signed: await signRecord(record, key) };
}

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

test('record: a signed record verifies and carries its fields', async () => {
  const a = await node('edge-a1');
  const got = await verifyRecord(a.signed.bytes);
  assert.deepEqual(got.record, a.record);
});

test('record: forged, altered and malformed records are ERR_RECORD_INVALID', async () => {
  const a = await node('edge-a1');
  const b = await node('edge-b1');
  const env = JSON.parse(new TextDecoder().decode(a.signed.bytes)) as { payload: string; sig: string };
  const payloadOf = (r: unknown) => Buffer.from(JSON.stringify(r)).toString('base64');
  // b signs a record that claims a's peer ID: the signature does not match a's key.
  const forged = await signRecord({ ...b.record, peerId: a.peerId }, b.key).catch(() => undefined);
  const cases: Array<{ name: string; bytes: Uint8Array }> = [
    { name: 'not JSON', bytes: new TextEncoder().encode('{nope') },
    { name: 'extra envelope field', bytes: enc({ ...env, x: 1 }) },
    { name: 'payload altered (name)', bytes: enc({ ...env, payload: payloadOf({ ...a.record, name: 'edge-b1' }) }) },
    { name: 'payload altered (seq)', bytes: enc({ ...env, payload: payloadOf({ ...a.record, seq: 99 }) }) },
    {
      name: 'signature of another key',
      bytes: enc({ ...env, sig: JSON.parse(new TextDecoder().decode(b.signed.bytes)).sig }),
    },
    { name: 'bad node name', bytes: enc({ ...env, payload: payloadOf({ ...a.record, name: 'Not_A_Name' }) }) },
    { name: 'unknown field', bytes: enc({ ...env, payload: payloadOf({ ...a.record, extra: true }) }) },
    { name: 'oversized', bytes: new Uint8Array(9000) },
  ];
  if (forged) cases.push({ name: 'signed by a key other than the peer ID', bytes: forged.bytes });
  for (const c of cases) await assert.rejects(verifyRecord(c.bytes), { code: 'ERR_RECORD_INVALID' }, c.name);
});

test('directory: newer records replace older ones; stale ones are ignored', async () => {
  const a = await node('edge-a1', 5);
  const dir = createDirectory();
  assert.equal(dir.accept(a.signed), 'new');
  const older = await signRecord({ ...a.record, seq: 4, addrs: [] }, a.key);
  assert.equal(dir.accept(older), 'stale');
  const newer = await signRecord({ ...a.record, seq: 6, addrs: [] }, a.key);
  assert.equal(dir.accept(newer), 'updated');
  assert.deepEqual(dir.get('edge-a1')?.record.addrs, []);
  assert.equal(dir.nameOf(a.peerId), 'edge-a1');
  assert.equal(dir.peerOf('edge-a1'), a.peerId);
});

test('directory: a second key claiming a bound name (or a second name for a key) is ERR_NAME_CONFLICT', async () => {
  const a = await node('edge-a1');
  const impostor = await node('edge-a1');
  const renamed = await signRecord({ ...a.record, name: 'edge-z9', seq: 2 }, a.key);
  const cases = [
    { name: 'first seen wins', pins: [], first: a.signed, second: impostor.signed },
    {
      name: 'configured pin wins',
      pins: [{ name: 'edge-a1', peerId: a.peerId }],
      first: undefined,
      second: impostor.signed,
    },
    { name: 'one key, one name', pins: [], first: a.signed, second: renamed },
  ];
  for (const c of cases) {
    const dir = createDirectory({ pins: c.pins });
    if (c.first) dir.accept(c.first);
    assert.throws(() => dir.accept(c.second), { code: 'ERR_NAME_CONFLICT' }, c.name);
    assert.equal(dir.peerOf('edge-a1'), a.peerId, c.name);
  }
});
