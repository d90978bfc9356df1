/**
 * Relay HA. Keeps a connection to every configured relay, measures each one's RTT with libp2p
 * ping every second, and holds circuit-v2 reservations on the `reservations` nearest ones. When a
 * relay connection closes (relay killed, link cut, ping failures) the next tick — run at once —
 * reserves on the next-nearest relay, and the node record is republished so peers learn the new
 * circuit addresses. A relay's name is checked against its signed record before it is used: an
 * advertise address answered by another node is not our relay.
 *
 * Relays come from two sources: `relayNodes` (configured, identified by name) and the DHT
 * (discovered, identified by peer ID; see discovery.ts). Both are probed and ranked the same
 * way; a discovered relay is used only while its signed record says it serves (`relay: true`).
 *
 * The relay server runs in every node (it cannot be added to a running libp2p node) but the
 * connection gater refuses reservations and circuits unless this node is a relay — listed in
 * `relayNodes`, or (without `relayNodes`) proven publicly reachable — so converting a node into a
 * relay, or back, takes effect without a restart.
 *
 * This file decides when and on which relays to act; dialling, pinging and reserving one relay
 * are in relay.ts.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import {
  DEFAULT_RESERVATIONS,
  DISCOVERED_RELAY_MAX_FAILURES,
  DISCOVERED_RELAY_RETRY_MS,
  DISCOVERED_RELAY_VERIFY_MS,
  RELAY_PROBE_INTERVAL_MS,
} from '../constants.ts';
import type { Directory } from '../records/directory.ts';
import { toMultiaddr } from '../transport/address.ts';
import { createRelayOps, newRelayState, type RelayNode, type RelaySource, type RelayState } from './relay.ts';

export type { RelayNode, RelaySource } from './relay.ts';

export interface RelayStatus {
  name: string;
  source: RelaySource;
  peer?: string;
  connected: boolean;
  verified: boolean;
  reserved: boolean;
  rttMs?: number;
}

export interface RelayCandidate {
  name: string;
  source: RelaySource;
  peer: PeerId;
  /** Direct multiaddr of the relay, ending in `/p2p/<relay>`. */
  addr: Multiaddr;
  rttMs?: number;
}

export interface RelayManager {
  /** Replaces the relay list (hot reload). */
  update(relays: RelayNode[], defaultPort: number): void;
  /** Is this node a relay now (configured, or automatic)? */
  isRelay(): boolean;
  /** Sets the automatic relay role (publicly reachable, no `relayNodes`). */
  setAutoRelay(on: boolean): void;
  /** Adds (or refreshes) a relay found in the DHT. Ignored for ourselves and configured relays. */
  discover(peer: PeerId, addrs: Multiaddr[]): void;
  /** Forgets every discovered relay (automatic mode turned off). */
  clearDiscovered(): void;
  /** Relays connected, verified and usable for reservations, by source. */
  usable(): Record<RelaySource, number>;
  /** Reservations this node wants to hold. */
  readonly want: number;
  /** Relays we are connected to, nearest first. */
  candidates(): RelayCandidate[];
  /** Name of a relay peer, if it is one of ours. */
  nameOf(peer: string): string | undefined;
  status(): RelayStatus[];
  /** Runs a probe tick now (a record arrived, a connection closed). */
  poke(): void;
  /** Runs the probe loop until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
}

export interface RelayManagerInit {
  name: string;
  reservations?: number;
  /** Called when our set of reservations changed (republish the record). */
  onReservationsChanged: () => void;
  /** Called when this node starts or stops being a relay. */
  onRelayRoleChanged: (isRelay: boolean) => void;
  /** Called for each relay dial that failed as a PSK mismatch (metrics). */
  onPskMismatch?: () => void;
}

export interface RelayManagerComponents {
  libp2p: Libp2p;
  transportManager: TransportManager;
  directory: Directory;
  log: Logger;
}

export function createRelayManager(init: RelayManagerInit, components: RelayManagerComponents): RelayManager {
  const { libp2p, transportManager, directory } = components;
  const log = components.log.child({ component: 'mesh.relays' });
  const want = init.reservations ?? DEFAULT_RESERVATIONS;
  let relays = new Map<string, RelayState>();
  /** Discovered relays by peer ID. */
  const discovered = new Map<string, RelayState>();
  /** Peers whose record said they do not serve, with the time they may be tried again. */
  const notRelays = new Map<string, number>();
  let configuredSelf = false;
  let autoSelf = false;
  let selfRelay = false;
  let lastReserved = '';
  let wake: (() => void) | undefined;
  const ops = createRelayOps(
    { onPskMismatch: init.onPskMismatch, onReserveSettled: () => wake?.() },
    { libp2p, transportManager, directory, log },
  );
  const { nameOf, verified, directConn, reservedOn } = ops;
  const isSelf = (s: RelayState): boolean => s.source === 'configured' && s.cfg.nodeName === init.name;
  /** Every relay we know, configured ones first; a discovered peer that is also configured is skipped. */
  const all = (): RelayState[] => {
    const configured = [...relays.values()];
    const peers = new Set(configured.flatMap((s) => (s.peer ? [s.peer.toString()] : [])));
    return [...configured, ...[...discovered.values()].filter((s) => !peers.has(s.peer?.toString() ?? ''))];
  };

  /** Drops discovered relays that stopped answering or do not serve; they come back with the next lookup. */
  const pruneDiscovered = (now: number) => {
    for (const [key, s] of discovered) {
      const connected = directConn(s.peer) !== undefined;
      let why: string | undefined;
      if (!connected && s.failures >= DISCOVERED_RELAY_MAX_FAILURES) why = 'unreachable';
      else if (connected && !verified(s)) {
        s.unverifiedSince ??= now;
        if (now - s.unverifiedSince > DISCOVERED_RELAY_VERIFY_MS) {
          why = 'not serving';
          notRelays.set(key, now + DISCOVERED_RELAY_RETRY_MS);
        }
      } else s.unverifiedSince = undefined;
      if (why) {
        discovered.delete(key);
        log.info({ relay: nameOf(s), peer: key, why }, 'discovered relay dropped');
      }
    }
  };

  const tick = () => {
    const now = performance.now();
    if (!selfRelay) pruneDiscovered(now);
    for (const s of all()) {
      if (isSelf(s)) continue;
      // A relay does not reserve, so it has no use for discovered relays.
      if (s.source === 'discovered' && selfRelay) continue;
      const conn = directConn(s.peer);
      if (!conn) {
        if (!s.dialing && now >= s.nextAttempt) void ops.dial(s);
        continue;
      }
      if (!s.pinging) void ops.ping(s, conn);
    }
    if (selfRelay) return;
    const usable = all()
      .filter((s) => !isSelf(s) && directConn(s.peer) !== undefined && verified(s))
      .sort((a, b) => (a.rtt ?? Number.POSITIVE_INFINITY) - (b.rtt ?? Number.POSITIVE_INFINITY));
    let held = usable.filter((s) => s.peer && reservedOn(s.peer)).length;
    for (const s of usable) {
      if (held >= want || ops.reserving) break;
      if (s.peer && !reservedOn(s.peer)) {
        held++;
        void ops.reserve(s, directConn(s.peer) as Connection);
      }
    }
    const reserved = usable
      .filter((s) => s.peer && reservedOn(s.peer))
      .map((s) => nameOf(s))
      .sort()
      .join(',');
    if (reserved !== lastReserved) {
      log.info({ relays: reserved === '' ? [] : reserved.split(','), want }, 'relay reservations');
      lastReserved = reserved;
      init.onReservationsChanged();
    }
  };

  const onClose = (evt: CustomEvent<Connection>) => {
    const peer = evt.detail.remotePeer.toString();
    if (all().some((s) => s.peer?.toString() === peer)) wake?.();
  };

  const setRole = () => {
    const next = configuredSelf || autoSelf;
    if (next === selfRelay) return;
    selfRelay = next;
    log.info(
      { relay: next, how: configuredSelf ? 'configured' : 'automatic' },
      next ? 'this node is now a relay' : 'this node is no longer a relay',
    );
    init.onRelayRoleChanged(next);
  };

  return {
    want,
    update(list, defaultPort) {
      const next = new Map<string, RelayState>();
      for (const cfg of list) {
        const prev = relays.get(cfg.nodeName);
        const addrs = cfg.advertiseAddress.map((a) => toMultiaddr(a, defaultPort));
        if (cfg.peerId) directory.pin(cfg.nodeName, cfg.peerId);
        const peer = prev?.peer ?? (cfg.peerId ? peerIdFromString(cfg.peerId) : undefined);
        next.set(cfg.nodeName, {
          ...newRelayState('configured', cfg, addrs, peer),
          rtt: prev?.rtt,
          dialing: prev?.dialing ?? false,
          pinging: prev?.pinging ?? false,
          reserving: prev?.reserving ?? false,
        });
      }
      const added = [...next.keys()].filter((n) => !relays.has(n));
      const removed = [...relays.keys()].filter((n) => !next.has(n));
      relays = next;
      if (added.length || removed.length) log.info({ added, removed, relays: [...next.keys()] }, 'relay list changed');
      configuredSelf = next.has(init.name);
      setRole();
      wake?.();
    },
    isRelay: () => selfRelay,
    setAutoRelay(on) {
      autoSelf = on;
      setRole();
      wake?.();
    },
    discover(peer, addrs) {
      const key = peer.toString();
      if (peer.equals(libp2p.peerId) || (notRelays.get(key) ?? 0) > performance.now()) return;
      if ([...relays.values()].some((s) => s.peer?.equals(peer))) return;
      const direct = addrs.filter((a) => !a.toString().includes('/p2p-circuit'));
      const prev = discovered.get(key);
      if (prev) {
        if (direct.length) prev.addrs = direct;
        return;
      }
      discovered.set(key, newRelayState('discovered', { nodeName: '', advertiseAddress: [] }, direct, peer));
      log.info({ peer: key, node: directory.nameOf(key), addrs: direct.map(String) }, 'relay discovered');
      wake?.();
    },
    clearDiscovered() {
      if (discovered.size) log.info({ relays: [...discovered.keys()] }, 'discovered relays forgotten');
      discovered.clear();
      wake?.();
    },
    usable() {
      const n: Record<RelaySource, number> = { configured: 0, discovered: 0 };
      for (const s of all()) if (!isSelf(s) && directConn(s.peer) !== undefined && verified(s)) n[s.source]++;
      return n;
    },
    poke: () => wake?.(),
    nameOf(peer) {
      for (const s of all()) if (s.peer?.toString() === peer) return nameOf(s);
      return undefined;
    },
    candidates() {
      // Nearest first; relays that missed their last probe go last whatever their RTT.
      const rank = (s: RelayState) => (s.pingFailures > 0 ? 1e9 : 0) + (s.rtt ?? 1e6);
      return all()
        .filter((s) => !isSelf(s) && verified(s))
        .sort((a, b) => rank(a) - rank(b))
        .flatMap((s) => {
          const conn = directConn(s.peer);
          if (!conn || !s.peer) return [];
          const addr = conn.remoteAddr.decapsulateCode(421).encapsulate(`/p2p/${s.peer}`);
          return [{ name: nameOf(s), source: s.source, peer: s.peer, addr, rttMs: s.rtt }];
        });
    },
    status() {
      return all().map((s) => ({
        name: nameOf(s),
        source: s.source,
        peer: s.peer?.toString(),
        connected: isSelf(s) || directConn(s.peer) !== undefined,
        verified: isSelf(s) || verified(s),
        reserved: s.peer !== undefined && reservedOn(s.peer),
        rttMs: s.rtt === undefined ? undefined : Math.round(s.rtt * 100) / 100,
      }));
    },
    async start(signal) {
      libp2p.addEventListener('connection:close', onClose);
      try {
        while (!signal.aborted) {
          tick();
          await new Promise<void>((resolve) => {
            wake = resolve;
            void sleep(RELAY_PROBE_INTERVAL_MS, signal).then(resolve);
          });
          wake = undefined;
        }
      } finally {
        libp2p.removeEventListener('connection:close', onClose);
      }
    },
  };
}
