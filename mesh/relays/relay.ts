/**
 * One relay, as the manager (relays.ts) tracks it: where it is, what was measured, and the three
 * things done to it — dial, ping, reserve. Each action updates that relay's state and logs its
 * transitions; when and on which relays they run is the manager's decision.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../../common/log.ts';
import { RELAY_DIAL_TIMEOUT_MS, RELAY_PING_FAILURES_TO_DROP, RELAY_PING_TIMEOUT_MS } from '../constants.ts';
import { looksLikePskMismatch } from '../errors.ts';
import type { Directory } from '../records/directory.ts';
import { isCircuit } from '../transport/address.ts';

export interface RelayNode {
  nodeName: string;
  /** `IP`, `IP:PORT` or a multiaddr; a bare IP uses the default port. */
  advertiseAddress: string[];
  /** Optional pin of the relay's peer ID (otherwise learned from its signed record). */
  peerId?: string;
}

/** Where a relay came from: `relayNodes`, or a provider record in the DHT. */
export type RelaySource = 'configured' | 'discovered';

export interface RelayState {
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

export const newRelayState = (source: RelaySource, cfg: RelayNode, addrs: Multiaddr[], peer?: PeerId): RelayState => ({
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

export interface RelayOps {
  /** Name shown for a relay: configured name, else its record's name, else its peer ID. */
  nameOf(s: RelayState): string;
  /**
   * A configured relay is verified when its signed record carries the configured name; a
   * discovered one when its signed record says it serves as a relay.
   */
  verified(s: RelayState): boolean;
  /** Our open direct (not relayed) connection to a peer. */
  directConn(peer: PeerId | undefined): Connection | undefined;
  /** Do we hold a reservation on this relay (a circuit address through it is ours)? */
  reservedOn(peer: PeerId): boolean;
  /** True while a reservation request is in flight (on any relay). */
  readonly reserving: boolean;
  /** Dials the relay; on failure backs off and logs once per kind of error. */
  dial(s: RelayState): Promise<void>;
  /** Pings the relay over `conn` (EWMA RTT); drops the connection after repeated failures. */
  ping(s: RelayState, conn: Connection): Promise<void>;
  /** Asks the relay over `conn` for a reservation; `onReserveSettled` runs when it is done. */
  reserve(s: RelayState, conn: Connection): Promise<void>;
}

export interface RelayOpsInit {
  /** Called for each relay dial that failed as a PSK mismatch (metrics). */
  onPskMismatch?: () => void;
  /** Called after every reservation attempt, made or failed (the manager runs its next tick). */
  onReserveSettled: () => void;
}

export function createRelayOps(
  init: RelayOpsInit,
  components: { libp2p: Libp2p; transportManager: TransportManager; directory: Directory; log: Logger },
): RelayOps {
  const { libp2p, transportManager, directory, log } = components;
  // One reservation request at a time: the circuit transport clears its queue of waiting
  // reservation jobs whenever it has "enough" relays, which would silently drop a concurrent one.
  let reserving = false;

  const nameOf = (s: RelayState): string =>
    s.source === 'configured'
      ? s.cfg.nodeName
      : ((s.peer && directory.nameOf(s.peer.toString())) ?? s.peer?.toString() ?? 'unknown');

  return {
    nameOf,
    verified(s) {
      if (s.peer === undefined) return false;
      const name = directory.nameOf(s.peer.toString());
      if (s.source === 'configured') return name === s.cfg.nodeName;
      return name !== undefined && directory.get(name)?.record.relay === true;
    },
    directConn: (peer) =>
      peer ? libp2p.getConnections(peer).find((c) => c.status === 'open' && !isCircuit(c)) : undefined,
    reservedOn: (peer) =>
      libp2p.getMultiaddrs().some((ma) => ma.toString().includes(`/p2p/${peer.toString()}/p2p-circuit`)),
    get reserving() {
      return reserving;
    },

    async dial(s) {
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
    },

    async ping(s, conn) {
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
    },

    async reserve(s, conn) {
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
        init.onReserveSettled();
      }
    },
  };
}
