import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createLogger } from '../../common/log.ts';
import { createRelayDiscovery, type ProviderDht, relayDiscoveryKey } from './discovery.ts';
import type { Reachability } from './reachability.ts';
import type { RelayManager } from './relays.ts';

const until = async (what: string, fn: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Fakes of the three small surfaces discovery drives, recording what it does. */
async function fixture(init: { automatic: boolean; reachable: boolean }) {
  const provider = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
  const calls = { provide: 0, cancel: 0, find: 0, discovered: [] as string[], autoRelay: [] as boolean[] };
  const state = { ...init, relay: false };
  const dht: ProviderDht = {
    async *provide() {
      calls.provide++;
      yield { name: 'PEER_RESPONSE' };
    },
    async *findProviders() {
      calls.find++;
      yield { name: 'PROVIDER', providers: [{ id: provider, multiaddrs: [multiaddr('/ip4/198.18.0.11/tcp/20006')] }] };
    },
    async cancelReprovide() {
      calls.cancel++;
    },
  };
  const relays = {
    want: 2,
    isRelay: () => state.relay,
    setAutoRelay(on: boolean) {
      state.relay = on;
      calls.autoRelay.push(on);
    },
    discover: (peer: { toString(): string }) => calls.discovered.push(peer.toString()),
    clearDiscovered() {},
    usable: () => ({ configured: 0, discovered: 0 }),
  } as unknown as RelayManager;
  const reachability = { reachable: () => state.reachable } as unknown as Reachability;
  const discovery = createRelayDiscovery(
    { automatic: () => state.automatic },
    { dht, relays, reachability, log: createLogger({ component: 'test', level: 'silent' }) },
  );
  return { discovery, calls, state, provider };
}

test('relay discovery: a reachable node serves and provides; losing reachability stops both', async (t) => {
  const { discovery, calls, state } = await fixture({ automatic: true, reachable: true });
  const ac = new AbortController();
  const running = discovery.start(ac.signal);
  t.after(async () => {
    ac.abort();
    await running;
  });
  await until('serving', () => calls.provide === 1 && discovery.status().serving);
  assert.deepEqual(calls.autoRelay, [true]);
  assert.equal(calls.find, 0, 'a relay does not look for relays');

  state.reachable = false;
  discovery.poke();
  await until('stopped serving', () => !discovery.status().serving);
  assert.deepEqual(calls.autoRelay, [true, false]);
  assert.equal(calls.cancel, 1, 'providing stopped');
  await until('looking for relays instead', () => calls.find > 0);
});

test('relay discovery: a NATed node looks relays up and hands them to the relay manager; configured mode does nothing', async (t) => {
  const cases = [
    { name: 'automatic, not reachable', automatic: true, finds: true },
    { name: 'relayNodes configured', automatic: false, finds: false },
  ];
  for (const c of cases) {
    const { discovery, calls, provider } = await fixture({ automatic: c.automatic, reachable: false });
    const ac = new AbortController();
    const running = discovery.start(ac.signal);
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await running;
    assert.equal(calls.provide, 0, c.name);
    assert.deepEqual(calls.discovered, c.finds ? [provider.toString()] : [], c.name);
    assert.equal(discovery.status().mode, c.automatic ? 'automatic' : 'configured', c.name);
  }
  t.diagnostic(`key ${(await relayDiscoveryKey()).toString()}`);
});
