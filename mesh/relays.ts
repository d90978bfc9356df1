/**
 * Relay HA. Keeps a connection to every configured relay, measures each one's RTT with libp2p
 * ping every second, and holds circuit-v2 reservations on the `reservations` nearest ones. When a
 * relay connection closes (relay killed, link cut, ping failures) the next tick — run at once —
 * reserves on the next-nearest relay, and the node record is republished so peers learn the new
 * circuit addresses. A relay's name is checked against its signed record before it is used: an
 * advertise address answered by another node is not our relay.
 *
 * The relay server runs in every node (it cannot be added to a running libp2p node) but the
 * connection gater refuses reservations and circuits unless this node is listed in `relayNodes`,
 * so converting a node into a relay — or back — takes effect without a restart.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { sleep } from '../common/async.ts';
import type { Logger } from '../common/log.ts';
import {
  DEFAULT_RESERVATIONS,
  RELAY_DIAL_TIMEOUT_MS,
  RELAY_PING_FAILURES_TO_DROP,
  RELAY_PING_TIMEOUT_MS,
  RELAY_PROBE_INTERVAL_MS,
} from './constants.ts';
import type { Directory } from './directory.ts';
import { looksLikePskMismatch } from './errors.ts';

export interface RelayNode {
  nodeName: string;
  /** `IP`, `IP:PORT` or a multiaddr; a bare IP uses the default port. */
  advertiseAddress: string[];
  /** Optional pin of the relay's peer ID (otherwise learned from its signed record). */
  peerId?: string;
}

export interface RelayStatus {
  name: string;
  peer?: string;
  connected: boolean;
  verified: boolean;
  reserved: boolean;
  rttMs?: number;
}

export interface RelayCandidate {
  name: string;
  peer: PeerId;
  /** Direct multiaddr of the relay, ending in `/p2p/<relay>`. */
  addr: Multiaddr;
  rttMs?: number;
}

export interface RelayManager {
  /** Replaces the relay list (hot reload). */
  update(relays: RelayNode[], defaultPort: number): void;
  /** Is this node a relay now? */
  isRelay(): boolean;
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
}

export interface RelayManagerComponents {
  libp2p: Libp2p;
  transportManager: TransportManager;
  directory: Directory;
  log: Logger;
}

interface RelayState {
  cfg: RelayNode;
  addrs: Multiaddr[];
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

const isCircuit = (c: Connection) => c.remoteAddr.toString().includes('/p2p-circuit');

/** `IP`, `IP:PORT` or a multiaddr → multiaddr. */
export function relayAddress(text: string, defaultPort: number): Multiaddr {
  if (text.startsWith('/')) return multiaddr(text);
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`bad relay address ${text}`);
  const host = (m[1] ?? m[2]) as string;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  const proto = host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : 'dns';
  return multiaddr(`/${proto}/${host}/tcp/${port}`);
}

export function createRelayManager(init: RelayManagerInit, components: RelayManagerComponents): RelayManager {
  const { libp2p, transportManager, directory } = components;
  const log = components.log.child({ component: 'mesh.relays' });
  const want = init.reservations ?? DEFAULT_RESERVATIONS;
  let relays = new Map<string, RelayState>();
  let selfRelay = false;
  let lastReserved = '';
  let wake: (() => void) | undefined;
  // One reservation request at a time: the circuit transport clears its queue of waiting
  // reservation jobs whenever it has "enough" relays, which would silently drop a concurrent one.
  let reserving = false;

  const directConn = (peer: PeerId | undefined): Connection | undefined =>
    peer ? libp2p.getConnections(peer).find((c) => c.status === 'open' && !isCircuit(c)) : undefined;
  const reservedOn = (peer: PeerId): boolean =>
    libp2p.getMultiaddrs().some((ma) => ma.toString().includes(`/p2p/${peer.toString()}/p2p-circuit`));
  const verified = (s: RelayState): boolean =>
    s.peer !== undefined && directory.nameOf(s.peer.toString()) === s.cfg.nodeName;

  const dial = async (s: RelayState) => {
    s.dialing = true;
    const targets = s.cfg.peerId ? s.addrs.map((a) => a.encapsulate(`/p2p/${s.cfg.peerId}`)) : s.addrs;
    try {
      const conn = await libp2p.dial(targets, { signal: AbortSignal.timeout(RELAY_DIAL_TIMEOUT_MS) });
      if (s.peer && !s.peer.equals(conn.remotePeer))
        log.info({ relay: s.cfg.nodeName, peer: conn.remotePeer.toString() }, 'relay has a new peer ID');
      s.peer = conn.remotePeer;
      s.failures = 0;
      s.pingFailures = 0;
      if (s.lastError !== undefined)
        log.info({ relay: s.cfg.nodeName, peer: s.peer.toString() }, 'relay reachable again');
      s.lastError = undefined;
    } catch (err) {
      s.failures++;
      s.nextAttempt = performance.now() + Math.min(250 * 2 ** s.failures, 5_000);
      const code = looksLikePskMismatch(err) ? 'ERR_PSK_MISMATCH' : 'ERR_UNREACHABLE';
      if (s.lastError !== code) {
        s.lastError = code;
        if (code === 'ERR_PSK_MISMATCH') {
          log.warn(
            { relay: s.cfg.nodeName, code, err },
            'relay refused our handshake: PSK mismatch (or not a fedmesh peer)',
          );
        } else {
          log.warn({ relay: s.cfg.nodeName, code, err: (err as Error).message }, 'relay unreachable');
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
          { relay: s.cfg.nodeName, err: (err as Error).message, failures: s.pingFailures },
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
      log.info({ relay: s.cfg.nodeName, rttMs: s.rtt }, 'relay reservation made');
    } catch (err) {
      log.warn({ relay: s.cfg.nodeName, err: (err as Error).message }, 'relay reservation failed');
    } finally {
      s.reserving = false;
      reserving = false;
      wake?.();
    }
  };

  const tick = () => {
    const now = performance.now();
    for (const s of relays.values()) {
      if (s.cfg.nodeName === init.name) continue;
      const conn = directConn(s.peer);
      if (!conn) {
        if (!s.dialing && now >= s.nextAttempt) void dial(s);
        continue;
      }
      if (!s.pinging) void ping(s, conn);
    }
    if (selfRelay) return;
    const usable = [...relays.values()]
      .filter((s) => s.cfg.nodeName !== init.name && directConn(s.peer) !== undefined && verified(s))
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
      .map((s) => s.cfg.nodeName)
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
    if ([...relays.values()].some((s) => s.peer?.toString() === peer)) wake?.();
  };

  return {
    update(list, defaultPort) {
      const next = new Map<string, RelayState>();
      for (const cfg of list) {
        const prev = relays.get(cfg.nodeName);
        const addrs = cfg.advertiseAddress.map((a) => relayAddress(a, defaultPort));
        if (cfg.peerId) directory.pin(cfg.nodeName, cfg.peerId);
        next.set(cfg.nodeName, {
          cfg,
          addrs,
          peer: prev?.peer ?? (cfg.peerId ? peerIdFromString(cfg.peerId) : undefined),
          rtt: prev?.rtt,
          failures: 0,
          pingFailures: 0,
          nextAttempt: 0,
          dialing: prev?.dialing ?? false,
          pinging: prev?.pinging ?? false,
          reserving: prev?.reserving ?? false,
        });
      }
      const added = [...next.keys()].filter((n) => !relays.has(n));
      const removed = [...relays.keys()].filter((n) => !next.has(n));
      relays = next;
      const nowRelay = next.has(init.name);
      if (added.length || removed.length) log.info({ added, removed, relays: [...next.keys()] }, 'relay list changed');
      if (nowRelay !== selfRelay) {
        selfRelay = nowRelay;
        log.info({ relay: nowRelay }, nowRelay ? 'this node is now a relay' : 'this node is no longer a relay');
        init.onRelayRoleChanged(nowRelay);
      }
      wake?.();
    },
    isRelay: () => selfRelay,
    poke: () => wake?.(),
    nameOf(peer) {
      for (const s of relays.values()) if (s.peer?.toString() === peer) return s.cfg.nodeName;
      return undefined;
    },
    candidates() {
      // Nearest first; relays that missed their last probe go last whatever their RTT.
      const rank = (s: RelayState) => (s.pingFailures > 0 ? 1e9 : 0) + (s.rtt ?? 1e6);
      return [...relays.values()]
        .filter((s) => s.cfg.nodeName !== init.name && verified(s))
        .sort((a, b) => rank(a) - rank(b))
        .flatMap((s) => {
          const conn = directConn(s.peer);
          if (!conn || !s.peer) return [];
          const addr = conn.remoteAddr.decapsulateCode(421).encapsulate(`/p2p/${s.peer}`);
          return [{ name: s.cfg.nodeName, peer: s.peer, addr, rttMs: s.rtt }];
        });
    },
    status() {
      return [...relays.values()].map((s) => ({
        name: s.cfg.nodeName,
        peer: s.peer?.toString(),
        connected: s.cfg.nodeName === init.name || directConn(s.peer) !== undefined,
        verified: s.cfg.nodeName === init.name || verified(s),
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
