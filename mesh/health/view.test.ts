import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import {
  canonicalJson,
  decodeView,
  encodeView,
  type HealthView,
  signView,
  type VerifyContext,
  verifyView,
} from './view.ts';
import { createZoneIndex } from './zones.ts';

const NOW = Date.UTC(2026, 0, 1);
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

async function identity(name: string): Promise<{ name: string; key: PrivateKey; peerId: string }> {
  const key = await generateKeyPair('Ed25519');
  return { name, key, peerId: peerIdFromPrivateKey(key).toString() };
}

const zones = createZoneIndex(
  ['a', 'b', 'c']
    .map((n) => ({ name: n, labels: { 'fedmesh.io/topology-zone': 'z1' } }))
    .concat([{ name: 'x', labels: { 'fedmesh.io/topology-zone': 'z2' } }]),
  { enabled: true, label: 'fedmesh.io/topology-zone' },
);

function viewOf(voter: { name: string; peerId: string }, over: Partial<HealthView> = {}): HealthView {
  return {
    v: 1,
    voter: voter.name,
    peerId: voter.peerId,
    epoch: 3,
    seq: 7,
    time: NOW,
    zone: 'z1',
    verdicts: { b: { state: 'healthy', lastOkAt: NOW - 1000 }, c: { state: 'unhealthy', lastOkAt: null } },
    ...over,
  };
}

test('view: canonical bytes do not depend on key order; signing is deterministic; round trip', async () => {
  const a = await identity('a');
  const v1 = viewOf(a);
  const v2 = { ...viewOf(a), verdicts: { c: v1.verdicts.c, b: v1.verdicts.b } } as HealthView;
  assert.deepEqual(encodeView(v1), encodeView(v2));
  assert.equal(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x' }), '{"a":"x","b":[2,{"c":null,"d":1}]}');
  const s1 = await signView(v1, a.key);
  const s2 = await signView(v2, a.key);
  assert.deepEqual(s1.bytes, s2.bytes);
  const ctx: VerifyContext = {
    keyOf: (n) => (n === 'a' ? a.peerId : undefined),
    zoneOf: zones.zoneOf,
    lastAccepted: () => undefined,
    wallNow: NOW,
    maxSkewMs: 10_000,
  };
  assert.deepEqual((await verifyView(s1.bytes, ctx)).view, v1);
});

test('view: signing refuses a key that is not the view peer ID, and an invalid view', async () => {
  const a = await identity('a');
  const m = await identity('m');
  await assert.rejects(signView(viewOf(a), m.key), { name: 'ViewRejectedError', code: 'ERR_VIEW_KEY_MISMATCH' });
  await assert.rejects(signView(viewOf(a, { voter: 'Not_A_Name' }), a.key), { code: 'ERR_VIEW_MALFORMED' });
});

test('view: every defect is refused with its own code', async () => {
  const [a, b, m] = await Promise.all([identity('a'), identity('b'), identity('m')]);
  const pins = new Map([
    ['a', a.peerId],
    ['b', b.peerId],
    ['x', m.peerId],
  ]);
  const base: VerifyContext = {
    keyOf: (n) => pins.get(n),
    zoneOf: zones.zoneOf,
    lastAccepted: () => undefined,
    wallNow: NOW,
    maxSkewMs: 10_000,
  };
  const good = await signView(viewOf(a), a.key);
  const env = JSON.parse(new TextDecoder().decode(good.bytes)) as { payload: string; sig: string };
  const flipped = viewOf(a, { verdicts: { ...viewOf(a).verdicts, c: { state: 'healthy', lastOkAt: NOW } } });
  // m signs a view in a's name with its own key and peer ID: well signed, but a is pinned to another key.
  const impostor = await signView(viewOf({ name: 'a', peerId: m.peerId }), m.key);
  // m signs a's exact payload (a's peer ID): the signature is not a's.
  const mSig = await m.key.sign(
    new Uint8Array([...new TextEncoder().encode('fedmesh-health-view/1\n'), ...encodeView(viewOf(a))]),
  );
  const cases: Array<{ name: string; bytes: Uint8Array; ctx?: Partial<VerifyContext>; code: string }> = [
    { name: 'not JSON', bytes: new TextEncoder().encode('{nope'), code: 'ERR_VIEW_MALFORMED' },
    { name: 'extra envelope field', bytes: enc({ ...env, x: 1 }), code: 'ERR_VIEW_MALFORMED' },
    { name: 'oversized', bytes: new Uint8Array(600 * 1024), code: 'ERR_VIEW_MALFORMED' },
    {
      name: 'payload not canonical (pretty-printed)',
      bytes: enc({ ...env, payload: b64(enc(JSON.parse(JSON.stringify(viewOf(a))))) }),
      code: 'ERR_VIEW_MALFORMED',
    },
    {
      name: 'unknown view field',
      bytes: enc({ ...env, payload: b64(encodeView({ ...viewOf(a), extra: 1 } as HealthView)) }),
      code: 'ERR_VIEW_MALFORMED',
    },
    {
      name: 'bad subject name',
      bytes: enc({
        ...env,
        payload: b64(encodeView(viewOf(a, { verdicts: { B_: { state: 'healthy', lastOkAt: 1 } } }))),
      }),
      code: 'ERR_VIEW_MALFORMED',
    },
    {
      name: 'bad verdict state',
      bytes: enc({ ...env, payload: b64(encodeView({ ...viewOf(a), verdicts: { b: { state: 'ok' } } } as never)) }),
      code: 'ERR_VIEW_MALFORMED',
    },
    {
      name: 'payload altered (verdict flipped)',
      bytes: enc({ ...env, payload: b64(encodeView(flipped)) }),
      code: 'ERR_VIEW_SIGNATURE',
    },
    { name: 'signed by another key', bytes: enc({ ...env, sig: b64(mSig) }), code: 'ERR_VIEW_SIGNATURE' },
    { name: 'impostor key for a pinned name', bytes: impostor.bytes, code: 'ERR_VIEW_KEY_MISMATCH' },
    { name: 'no key pinned', bytes: good.bytes, ctx: { keyOf: () => undefined }, code: 'ERR_VIEW_UNKNOWN_VOTER' },
    {
      name: 'same stamp again (replay)',
      bytes: good.bytes,
      ctx: { lastAccepted: () => ({ epoch: 3, seq: 7 }) },
      code: 'ERR_VIEW_REPLAY',
    },
    {
      name: 'older seq',
      bytes: good.bytes,
      ctx: { lastAccepted: () => ({ epoch: 3, seq: 8 }) },
      code: 'ERR_VIEW_REPLAY',
    },
    {
      name: 'older epoch, larger seq',
      bytes: good.bytes,
      ctx: { lastAccepted: () => ({ epoch: 4, seq: 0 }) },
      code: 'ERR_VIEW_REPLAY',
    },
    { name: 'signed 11 s in the future', bytes: good.bytes, ctx: { wallNow: NOW - 11_000 }, code: 'ERR_VIEW_SKEW' },
    { name: 'signed 11 s ago', bytes: good.bytes, ctx: { wallNow: NOW + 11_000 }, code: 'ERR_VIEW_SKEW' },
    {
      name: 'voter of another zone',
      bytes: (await signView(viewOf({ name: 'x', peerId: m.peerId }, { zone: 'z1', verdicts: {} }), m.key)).bytes,
      ctx: { zoneOf: () => zones.zoneOf('a') },
      code: 'ERR_VOTER_OUTSIDE_ZONE',
    },
    {
      name: 'view names another zone id',
      bytes: (await signView(viewOf(a, { zone: 'z2' }), a.key)).bytes,
      code: 'ERR_VOTER_OUTSIDE_ZONE',
    },
    {
      name: 'subject outside the zone',
      bytes: (await signView(viewOf(a, { verdicts: { x: { state: 'unhealthy', lastOkAt: null } } }), a.key)).bytes,
      code: 'ERR_SUBJECT_OUTSIDE_ZONE',
    },
  ];
  for (const c of cases) {
    await assert.rejects(
      verifyView(c.bytes, { ...base, ...c.ctx }),
      { name: 'ViewRejectedError', code: c.code },
      c.name,
    );
  }
  // The accepted edges: exactly at the skew bound, and a newer seq or epoch.
  for (const ctx of [
    { wallNow: NOW + 10_000 },
    { lastAccepted: () => ({ epoch: 3, seq: 6 }) },
    { lastAccepted: () => ({ epoch: 2, seq: 99 }) },
  ]) {
    await verifyView(good.bytes, { ...base, ...ctx });
  }
});

test('view: decodeView returns the schema-checked view without trusting the signature', async () => {
  const a = await identity('a');
  const { bytes } = await signView(viewOf(a), a.key);
  assert.equal(decodeView(bytes).view.voter, 'a');
});
