/**
 * Relays without `relayNodes`. In automatic mode (the configuration lists no relays):
 *   - a node that proves public reachability (reachability.ts) turns its relay role on (same
 *     server limits as configured relays) and provides a well-known key in the private DHT —
 *     the CIDv1 (raw) of SHA-256(RELAY_DISCOVERY_NAMESPACE) — re-providing every minute; when
 *     reachability is lost it stops serving and stops re-providing (its provider records age out
 *     after RELAY_PROVIDER_TTL_MS, and finders check the relay flag of its signed record anyway);
 *   - every other node looks the key up (every few seconds while it has fewer usable relays than
 *     it wants reservations, every 30 s otherwise) and hands the providers to the relay manager,
 *     which connects, measures RTT and reserves on the nearest, exactly as for configured relays.
 * With `relayNodes` configured the list is authoritative (as in EdgeMesh): nothing here runs, and
 * discovered relays are forgotten when a reload adds relays.
 */
import type { PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import {
  DHT_TIMEOUT_MS,
  RELAY_DISCOVERY_NAMESPACE,
  RELAY_LOOKUP_FAST_MS,
  RELAY_LOOKUP_SLOW_MS,
  RELAY_PROVIDE_INTERVAL_MS,
} from '../constants.ts';
import type { Reachability } from './reachability.ts';
import type { RelayManager } from './relays.ts';

/** Period of the discovery loop (role changes, lookups and re-provides are checked on it). */
const TICK_MS = 1_000;

/** The kad-dht surface used for provider records. */
export interface ProviderDht {
  provide(key: CID, options?: { signal?: AbortSignal }): AsyncIterable<unknown>;
  findProviders(
    key: CID,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<{ name: string; providers?: Array<{ id: PeerId; multiaddrs: Multiaddr[] }> }>;
  cancelReprovide(key: CID, options?: { signal?: AbortSignal }): Promise<void>;
}

/** Raw codec (0x55) CIDv1 of the namespace's SHA-256: the key relays provide under. */
export async function relayDiscoveryKey(namespace = RELAY_DISCOVERY_NAMESPACE): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(namespace)));
}

export interface RelayDiscoveryStatus {
  /** `automatic` without `relayNodes`, `configured` otherwise. */
  mode: 'automatic' | 'configured';
  /** Serving as a relay found through the DHT. */
  serving: boolean;
  /** Seconds since the last provider lookup, and what it found. */
  lastLookupAgoS?: number;
  lastFound?: number;
}

export interface RelayDiscovery {
  status(): RelayDiscoveryStatus;
  /** Re-evaluates now (reachability or configuration changed). */
  poke(): void;
  start(signal: AbortSignal): Promise<void>;
}

export interface RelayDiscoveryInit {
  /** Automatic mode on (no `relayNodes`)? Read on every tick: it follows hot reloads. */
  automatic: () => boolean;
}

export interface RelayDiscoveryComponents {
  dht: ProviderDht;
  relays: RelayManager;
  reachability: Reachability;
  log: Logger;
}

export function createRelayDiscovery(init: RelayDiscoveryInit, components: RelayDiscoveryComponents): RelayDiscovery {
  const { dht, relays, reachability } = components;
  const log = components.log.child({ component: 'mesh.relay-discovery' });
  let key: CID | undefined;
  let serving = false;
  let wasAutomatic = false;
  let lastProvide = Number.NEGATIVE_INFINITY;
  let lastLookup = Number.NEGATIVE_INFINITY;
  let lastFound: number | undefined;
  let providing = false;
  let wake: (() => void) | undefined;

  const provide = async (k: CID, signal: AbortSignal) => {
    providing = true;
    lastProvide = performance.now();
    try {
      const events: Record<string, number> = {};
      for await (const evt of dht.provide(k, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]),
      })) {
        const name = (evt as { name?: string }).name ?? 'event';
        events[name] = (events[name] ?? 0) + 1;
      }
      log.debug({ events }, 'relay provider record stored');
    } catch (err) {
      // Partly stored is fine (the record is on the peers reached); none stored is retried next period.
      log.debug({ err: (err as Error).message }, 'relay provider record not stored everywhere');
    } finally {
      providing = false;
    }
  };

  const lookup = async (k: CID, signal: AbortSignal) => {
    lastLookup = performance.now();
    const found = new Set<string>();
    try {
      const sig = AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      for await (const evt of dht.findProviders(k, { signal: sig })) {
        if (evt.name !== 'PROVIDER') continue;
        for (const p of evt.providers ?? []) {
          found.add(p.id.toString());
          relays.discover(p.id, p.multiaddrs);
        }
      }
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'relay lookup ended early (no DHT peers yet?)');
    }
    if (found.size !== lastFound) log.debug({ providers: [...found] }, 'relay lookup');
    lastFound = found.size;
  };

  const tick = async (signal: AbortSignal) => {
    key ??= await relayDiscoveryKey();
    const automatic = init.automatic();
    if (!automatic && wasAutomatic) relays.clearDiscovered();
    wasAutomatic = automatic;
    const serve = automatic && reachability.reachable();
    if (serve !== serving) {
      serving = serve;
      relays.setAutoRelay(serve);
      if (serve) {
        log.info('serving as a relay (publicly reachable); advertising it in the DHT');
        lastProvide = Number.NEGATIVE_INFINITY;
      } else {
        log.info({ automatic }, 'no longer serving as an automatic relay; advertising stopped');
        await dht.cancelReprovide(key).catch(() => {});
      }
    }
    const now = performance.now();
    if (serving && !providing && now - lastProvide >= RELAY_PROVIDE_INTERVAL_MS) void provide(key, signal);
    if (automatic && !relays.isRelay()) {
      const usable = relays.usable();
      const enough = usable.configured + usable.discovered >= relays.want;
      if (now - lastLookup >= (enough ? RELAY_LOOKUP_SLOW_MS : RELAY_LOOKUP_FAST_MS)) await lookup(key, signal);
    }
  };

  return {
    status: () => ({
      mode: init.automatic() ? 'automatic' : 'configured',
      serving,
      lastLookupAgoS:
        lastLookup === Number.NEGATIVE_INFINITY ? undefined : Math.round((performance.now() - lastLookup) / 100) / 10,
      lastFound,
    }),
    poke: () => wake?.(),
    async start(signal) {
      while (!signal.aborted) {
        await tick(signal).catch((err: unknown) => log.warn({ err }, 'relay discovery tick failed'));
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(TICK_MS, signal).then(resolve);
        });
        wake = undefined;
      }
      if (serving && key) await dht.cancelReprovide(key).catch(() => {});
    },
  };
}
