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
  RELAY_DIAL_TIMEOUT_MS,
  RELAY_PING_FAILURES_TO_DROP,
  RELAY_PING_TIMEOUT_MS,
  RELAY_PROBE_INTERVAL_MS,
} from '../constants.ts';
import { looksLikePskMismatch } from '../errors.ts';
import type { Directory } from '../records/directory.ts';
import { isCircuit, toMultiaddr } from '../transport/address.ts';

export interface RelayNode {
  nodeName: string;
  /** `IP`, `IP:PORT` or a multiaddr; a bare IP uses the default port. */
  advertiseAddress: string[];
  /** Optional pin of the relay's peer ID (otherwise learned from its signed record). */
  peerId?: string;
}

/** Where a relay came from: `relayNodes`, or a provider record in the DHT. */
export type RelaySource = 'configured' | 'discovered';

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

interface RelayState {
  source: RelaySource;
  /** Configured relays: the config entry. Discovered ones: a placeholder without a name. */
  cfg: RelayNode;
  addrs: Multiaddr[];
  /** Discovered relays: when a connection to it was first seen without a serving record. */
  unverifiedSince?: number;
  peer?: PeerId;
  rtt?: number;
  failures: number;
  pingFailures: number;
  nextAttempt: number;
  dialing: boolean;
  pinging: boolean;
  reserving: boolean;
  lastError?: string;
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
  // One reservation request at a time: the circuit transport clears its queue of waiting
  // reservation jobs whenever it has "enough" relays, which would silently drop a concurrent one.
  let reserving = false;

  /** Name shown for a relay: configured name, else its record's name, else its peer ID. */
  const nameOf = (s: RelayState): string =>
    s.source === 'configured'
      ? s.cfg.nodeName
      : ((s.peer && directory.nameOf(s.peer.toString())) ?? s.peer?.toString() ?? 'unknown');
  const isSelf = (s: RelayState): boolean => s.source === 'configured' && s.cfg.nodeName === init.name;
  /** Every relay we know, configured ones first; a discovered peer that is also configured is skipped. */
  const all = (): RelayState[] => {
    const configured = [...relays.values()];
    const peers = new Set(configured.flatMap((s) => (s.peer ? [s.peer.toString()] : [])));
    return [...configured, ...[...discovered.values()].filter((s) => !peers.has(s.peer?.toString() ?? ''))];
  };

  const directConn = (peer: PeerId | undefined): Connection | undefined =>
    peer ? libp2p.getConnections(peer).find((c) => c.status === 'open' && !isCircuit(c)) : undefined;
  const reservedOn = (peer: PeerId): boolean =>
    libp2p.getMultiaddrs().some((ma) => ma.toString().includes(`/p2p/${peer.toString()}/p2p-circuit`));
  /**
   * A configured relay is verified when its signed record carries the configured name; a
   * discovered one when its signed record says it serves as a relay.
   */
  const verified = (s: RelayState): boolean => {
    if (s.peer === undefined) return false;
    const name = directory.nameOf(s.peer.toString());
    if (s.source === 'configured') return name === s.cfg.nodeName;
    return name !== undefined && directory.get(name)?.record.relay === true;
  };

  const dial = async (s: RelayState) => {
    s.dialing = true;
    const pin = s.cfg.peerId ?? (s.source === 'discovered' ? s.peer?.toString() : undefined);
    const targets = pin
      ? s.addrs.map((a) => (a.toString().includes('/p2p/') ? a : a.encapsulate(`/p2p/${pin}`)))
      : s.addrs;
    try {
      // A discovered relay whose provider record came without addresses is dialled by peer ID
      // (the peer store may know it from the DHT).
      const target = targets.length === 0 && s.peer ? s.peer : targets;
      const conn = await libp2p.dial(target, { signal: AbortSignal.timeout(RELAY_DIAL_TIMEOUT_MS) });
      if (s.peer && !s.peer.equals(conn.remotePeer))
        log.info({ relay: nameOf(s), peer: conn.remotePeer.toString() }, 'relay has a new peer ID');
      s.peer = conn.remotePeer;
      s.failures = 0;
      s.pingFailures = 0;
      if (s.lastError !== undefined) log.info({ relay: nameOf(s), peer: s.peer.toString() }, 'relay reachable again');
      s.lastError = undefined;
    } catch (err) {
      s.failures++;
      s.nextAttempt = performance.now() + Math.min(250 * 2 ** s.failures, 5_000);
      const code = looksLikePskMismatch(err) ? 'ERR_PSK_MISMATCH' : 'ERR_UNREACHABLE';
      if (code === 'ERR_PSK_MISMATCH') init.onPskMismatch?.();
      if (s.lastError !== code) {
        s.lastError = code;
        if (code === 'ERR_PSK_MISMATCH') {
          log.warn(
            { relay: nameOf(s), source: s.source, code, err },
            'relay refused our handshake: PSK mismatch (or not a fedmesh peer)',
          );
        } else {
          log.warn({ relay: nameOf(s), source: s.source, code, err: (err as Error).message }, 'relay unreachable');
        }
      }
    } finally {
      s.dialing = false;
    }
  };

  const ping = async (s: RelayState, conn: Connection) => {
    s.pinging = true;
    try {
      const ping = (libp2p.services as { ping: { ping(p: PeerId, o: object): Promise<number> } }).ping;
      const ms = await ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(RELAY_PING_TIMEOUT_MS) });
      s.rtt = s.rtt === undefined ? ms : 0.7 * s.rtt + 0.3 * ms;
      s.pingFailures = 0;
    } catch (err) {
      s.pingFailures++;
      // A busy relay answers late (its link is full of our own traffic), so one late answer only
      // makes it a last choice; a relay silent for several probes in a row (host gone, link cut)
      // is dropped, so its reservation moves and its tunnels resume elsewhere.
      if (s.pingFailures === RELAY_PING_FAILURES_TO_DROP) {
        log.warn(
          { relay: nameOf(s), err: (err as Error).message, failures: s.pingFailures },
          'relay stopped answering pings; dropping it',
        );
        conn.abort(new Error('relay ping failed'));
        s.rtt = undefined;
      }
    } finally {
      s.pinging = false;
    }
  };

  const reserve = async (s: RelayState, conn: Connection) => {
    s.reserving = true;
    reserving = true;
    const addr = conn.remoteAddr.decapsulateCode(421).encapsulate(`/p2p/${conn.remotePeer}/p2p-circuit`);
    try {
      // Bounded: a reservation job the transport dropped would otherwise hold `reserving` forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        transportManager.listen([addr]),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('reservation timed out')), RELAY_DIAL_TIMEOUT_MS * 3);
        }),
      ]).finally(() => clearTimeout(timer));
      log.info({ relay: nameOf(s), source: s.source, rttMs: s.rtt }, 'relay reservation made');
    } catch (err) {
      log.warn({ relay: nameOf(s), source: s.source, err: (err as Error).message }, 'relay reservation failed');
    } finally {
      s.reserving = false;
      reserving = false;
      wake?.();
    }
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
        if (!s.dialing && now >= s.nextAttempt) void dial(s);
        continue;
      }
      if (!s.pinging) void ping(s, conn);
    }
    if (selfRelay) return;
    const usable = all()
      .filter((s) => !isSelf(s) && directConn(s.peer) !== undefined && verified(s))
      .sort((a, b) => (a.rtt ?? Number.POSITIVE_INFINITY) - (b.rtt ?? Number.POSITIVE_INFINITY));
    let held = usable.filter((s) => s.peer && reservedOn(s.peer)).length;
    for (const s of usable) {
      if (held >= want || reserving) break;
      if (s.peer && !reservedOn(s.peer)) {
        held++;
        void reserve(s, directConn(s.peer) as Connection);
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

  const fresh = (source: RelaySource, cfg: RelayNode, addrs: Multiaddr[], peer?: PeerId): RelayState => ({
    source,
    cfg,
    addrs,
    peer,
    failures: 0,
    pingFailures: 0,
    nextAttempt: 0,
    dialing: false,
    pinging: false,
    reserving: false,
  });

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
          ...fresh('configured', cfg, addrs, peer),
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
      discovered.set(key, fresh('discovered', { nodeName: '', advertiseAddress: [] }, direct, peer));
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
