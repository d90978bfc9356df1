/**
 * Who provides which service, and announcing our own. Two sources, as for relays:
 *   - signed node records (records/): every record carries the services its node advertises, so
 *     LAN peers (mDNS), relays and anyone who exchanged records know them at once;
 *   - the private DHT: each advertised service is provided under serviceKey(name), re-provided every
 *     minute; a node forwarding a service looks the key up (every few seconds while it knows no
 *     provider, every 30 s after) and connects to providers it has no record of, which brings their
 *     record (the exchange on connect) and with it the target. A DHT answer alone is never trusted
 *     for the target: only the provider's own signed record says where the service is.
 * Connected providers of forwarded services are pinged, so the choice can prefer the nearest.
 */
import type { KeyObject } from 'node:crypto';
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { CID } from 'multiformats/cid';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import {
  DHT_TIMEOUT_MS,
  SERVICE_FAILURE_PENALTY_MS,
  SERVICE_LOOKUP_FAST_MS,
  SERVICE_LOOKUP_SLOW_MS,
  SERVICE_PING_INTERVAL_MS,
  SERVICE_PROVIDE_INTERVAL_MS,
} from '../constants.ts';
import type { Directory } from '../records/directory.ts';
import type { ProviderDht } from '../relays/discovery.ts';
import { isCircuit } from '../transport/address.ts';
import { isPenalized, type PathClass, type ProviderCandidate, rankProviders } from './choice.ts';
import { isEndorsed } from './endorse.ts';
import { type AdvertisedService, serviceKey } from './service.ts';

const TICK_MS = 1_000;
/** Weight of a new RTT sample (as the relay manager's EWMA). */
const RTT_ALPHA = 0.3;
/** Providers found in the DHT that we connect to at once to learn their record. */
const MAX_DIAL_PER_LOOKUP = 8;

export interface ServiceProvidersInit {
  /** This node's peer ID (never its own provider). */
  self: string;
  /** What this node advertises now (follows hot reloads). */
  advertised: () => AdvertisedService[];
  /** Keys a provider of `service` must be endorsed by; undefined or empty: any provider. */
  trusted?: (service: string) => readonly KeyObject[] | undefined;
}

export interface ServiceProvidersComponents {
  libp2p: Libp2p;
  dht: ProviderDht;
  directory: Directory;
  /** Reaches a peer on the best path (transport/dial.ts). */
  connect: (peer: PeerId, signal: AbortSignal) => Promise<Connection>;
  /** True for a direct connection that hole punching made. */
  isPunched: (conn: Connection) => boolean;
  ping: (peer: PeerId, signal: AbortSignal) => Promise<number>;
  log: Logger;
}

export interface ServiceProvidersStatus {
  advertised: AdvertisedService[];
  /** Per forwarded service: its providers in the order the next connection tries them. */
  wanted: Record<string, Array<ProviderCandidate & { penalized: boolean }>>;
  /** Per forwarded service with trusted keys: nodes advertising it without a valid endorsement. */
  unendorsed: Record<string, string[]>;
}

export interface ServiceProviders {
  /** Starts looking up and pinging providers of `service` (a forward uses it). */
  want(service: string): void;
  /** Providers of `service` known now, ranked (choice.ts). */
  ranked(service: string): ProviderCandidate[];
  /** Looks the service up in the DHT now and connects to providers found; resolves when done. */
  lookupNow(service: string, signal: AbortSignal): Promise<void>;
  /** An attempt on this provider failed / succeeded (with the time it took, a round-trip sample). */
  failed(peerId: string): void;
  succeeded(peerId: string, rttMs: number): void;
  /** The path we hold to a peer now. */
  pathOf(peerId: string): PathClass;
  /** The smoothed round trip to a peer in ms (tunnel opens and pings), when measured. */
  rttOf(peerId: string): number | undefined;
  /** A round-trip sample for a peer (the service proxy's tunnel opens). */
  sample(peerId: string, ms: number): void;
  /** Re-announce at once (the advertised list changed). */
  poke(): void;
  status(): ServiceProvidersStatus;
  start(signal: AbortSignal): Promise<void>;
}

export function createServiceProviders(
  init: ServiceProvidersInit,
  components: ServiceProvidersComponents,
): ServiceProviders {
  const { libp2p, dht, directory } = components;
  const log = components.log.child({ component: 'mesh.advertise' });
  const wanted = new Map<string, { lastLookup: number; looking?: Promise<void>; listed?: Set<string> }>();
  const rtt = new Map<string, number>();
  const failedAt = new Map<string, number>();
  /** Service name → when we last provided it (or NEGATIVE_INFINITY to provide at the next tick). */
  const provided = new Map<string, number>();
  const keys = new Map<string, CID>();
  let lastPing = Number.NEGATIVE_INFINITY;
  let wake: (() => void) | undefined;
  let running: AbortSignal | undefined;
  /** Unendorsed advertisements seen, by service then `peer@seq` (logged once each). */
  const unendorsed = new Map<string, Map<string, string>>();

  const keyOf = async (name: string) => {
    let k = keys.get(name);
    if (!k) {
      k = await serviceKey(name);
      keys.set(name, k);
    }
    return k;
  };

  const pathOf = (peerId: string): PathClass => {
    let best: PathClass = 'none';
    for (const c of libp2p.getConnections(peerIdFromString(peerId))) {
      if (c.status !== 'open') continue;
      if (!isCircuit(c)) return components.isPunched(c) ? 'punched' : 'direct';
      best = 'relayed';
    }
    return best;
  };

  const candidates = (service: string): ProviderCandidate[] =>
    directory.all().flatMap(({ record }) => {
      if (record.peerId === init.self) return [];
      const s = record.services?.find((x) => x.name === service);
      if (!s) return [];
      const keys = init.trusted?.(service);
      if (keys && keys.length > 0 && !isEndorsed(service, record.peerId, s.endorsement, keys)) {
        const seen = unendorsed.get(service) ?? new Map<string, string>();
        unendorsed.set(service, seen);
        const id = `${record.peerId}@${record.seq}`;
        if (!seen.has(id)) {
          seen.set(id, record.name);
          log.warn(
            { service, node: record.name, peer: record.peerId, code: 'ERR_NOT_ENDORSED' },
            'service provider ignored: its advertisement is not endorsed by a trusted service key',
          );
        }
        return [];
      }
      return [
        {
          node: record.name,
          peerId: record.peerId,
          host: s.host,
          port: s.port,
          path: pathOf(record.peerId),
          rttMs: rtt.get(record.peerId),
          failedAt: failedAt.get(record.peerId),
          listed: wanted.get(service)?.listed?.has(record.peerId) ?? true,
        },
      ];
    });

  const ranked = (service: string) => rankProviders(candidates(service), performance.now(), SERVICE_FAILURE_PENALTY_MS);

  const sample = (peerId: string, ms: number) => {
    const prev = rtt.get(peerId);
    rtt.set(peerId, prev === undefined ? ms : prev + RTT_ALPHA * (ms - prev));
  };

  const lookup = async (service: string, signal: AbortSignal) => {
    const found = new Map<string, PeerId>();
    try {
      const sig = AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      for await (const evt of dht.findProviders(await keyOf(service), { signal: sig })) {
        if (evt.name !== 'PROVIDER') continue;
        for (const p of evt.providers ?? []) {
          if (p.id.toString() === init.self) continue;
          found.set(p.id.toString(), p.id);
          if (p.multiaddrs.length > 0) await libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {});
        }
      }
    } catch (err) {
      log.debug({ service, err: (err as Error).message }, 'service lookup ended early (no DHT peers yet?)');
    }
    // Providers whose record we lack (or whose record predates the service): connect, and the
    // record exchange on the new connection tells us where the service is.
    const unknown = [...found.values()].filter((id) => {
      const name = directory.nameOf(id.toString());
      const rec = name === undefined ? undefined : directory.get(name);
      return !rec?.record.services?.some((s) => s.name === service) && pathOf(id.toString()) === 'none';
    });
    await Promise.all(
      unknown.slice(0, MAX_DIAL_PER_LOOKUP).map((id) =>
        components
          .connect(id, AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]))
          .then(() => waitForRecord(id.toString(), service, signal))
          .catch((err: unknown) =>
            log.debug({ service, peer: id.toString(), err: (err as Error).message }, 'service provider not reached'),
          ),
      ),
    );
    // An empty answer says more about the DHT (no peers yet) than about the providers.
    const w = wanted.get(service);
    if (w && found.size > 0) w.listed = new Set(found.keys());
    log.debug({ service, found: found.size, dialled: unknown.length }, 'service lookup');
  };

  /** The record exchange runs right after identify: give it a moment (bounded) to land. */
  const waitForRecord = async (peerId: string, service: string, signal: AbortSignal) => {
    for (let i = 0; i < 20 && !signal.aborted; i++) {
      const name = directory.nameOf(peerId);
      if (name && directory.get(name)?.record.services?.some((s) => s.name === service)) return;
      await sleep(100, signal).catch(() => {});
    }
  };

  const lookupNow = (service: string, signal: AbortSignal): Promise<void> => {
    const w = wanted.get(service) ?? { lastLookup: Number.NEGATIVE_INFINITY };
    wanted.set(service, w);
    if (!w.looking) {
      w.lastLookup = performance.now();
      w.looking = lookup(service, AbortSignal.any([signal, running ?? signal])).finally(() => {
        w.looking = undefined;
      });
    }
    return w.looking;
  };

  const provide = async (name: string, signal: AbortSignal) => {
    provided.set(name, performance.now());
    try {
      const events: Record<string, number> = {};
      const sig = AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      for await (const evt of dht.provide(await keyOf(name), { signal: sig })) {
        const n = (evt as { name?: string }).name ?? 'event';
        events[n] = (events[n] ?? 0) + 1;
      }
      log.debug({ service: name, events }, 'service provider record stored');
    } catch (err) {
      // Partly stored is fine; none stored is retried at the next period.
      log.debug({ service: name, err: (err as Error).message }, 'service provider record not stored everywhere');
    }
  };

  const tick = async (signal: AbortSignal) => {
    const now = performance.now();
    const mine = new Set(init.advertised().map((s) => s.name));
    for (const name of provided.keys()) {
      if (mine.has(name)) continue;
      provided.delete(name);
      await dht.cancelReprovide(await keyOf(name)).catch(() => {});
      log.info({ service: name }, 'service no longer advertised');
    }
    for (const name of mine) {
      const last = provided.get(name);
      if (last === undefined) log.info({ service: name }, 'advertising service');
      if (last === undefined || now - last >= SERVICE_PROVIDE_INTERVAL_MS) void provide(name, signal);
    }
    for (const [service, w] of wanted) {
      const period = candidates(service).length === 0 ? SERVICE_LOOKUP_FAST_MS : SERVICE_LOOKUP_SLOW_MS;
      if (!w.looking && now - w.lastLookup >= period) void lookupNow(service, signal);
    }
    if (now - lastPing >= SERVICE_PING_INTERVAL_MS) {
      lastPing = now;
      const peers = new Set<string>();
      for (const service of wanted.keys()) {
        for (const c of candidates(service)) if (c.path !== 'none') peers.add(c.peerId);
      }
      for (const p of peers) {
        void components
          .ping(peerIdFromString(p), AbortSignal.any([signal, AbortSignal.timeout(SERVICE_PING_INTERVAL_MS)]))
          .then((ms) => sample(p, ms))
          .catch(() => {});
      }
    }
  };

  return {
    want(service) {
      if (wanted.has(service)) return;
      wanted.set(service, { lastLookup: Number.NEGATIVE_INFINITY });
      wake?.();
    },
    ranked,
    lookupNow,
    failed: (peerId) => failedAt.set(peerId, performance.now()),
    succeeded(peerId, ms) {
      failedAt.delete(peerId);
      sample(peerId, ms);
    },
    pathOf,
    rttOf: (peerId) => rtt.get(peerId),
    sample,
    poke: () => wake?.(),
    status() {
      const now = performance.now();
      const out: ServiceProvidersStatus['wanted'] = {};
      for (const service of wanted.keys()) {
        out[service] = ranked(service).map((c) => ({
          ...c,
          rttMs: c.rttMs === undefined ? undefined : Math.round(c.rttMs * 10) / 10,
          failedAt: undefined,
          penalized: isPenalized(c, now, SERVICE_FAILURE_PENALTY_MS),
        }));
      }
      const bad: Record<string, string[]> = {};
      for (const [service, seen] of unendorsed) {
        // Only advertisements still current: a node that got its endorsement since is not listed.
        bad[service] = [...new Set(seen.values())].filter((name) => {
          const rec = directory.get(name)?.record;
          return rec !== undefined && seen.has(`${rec.peerId}@${rec.seq}`);
        });
      }
      return { advertised: init.advertised(), wanted: out, unendorsed: bad };
    },
    async start(signal) {
      running = signal;
      while (!signal.aborted) {
        await tick(signal).catch((err: unknown) => log.warn({ err }, 'service tick failed'));
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(TICK_MS, signal).then(resolve, resolve);
        });
        wake = undefined;
      }
      for (const name of provided.keys()) await dht.cancelReprovide(await keyOf(name)).catch(() => {});
    },
  };
}
