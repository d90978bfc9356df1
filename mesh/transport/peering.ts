/**
 * Staying connected to the peers found outside the relay machinery: LAN peers announced by mDNS
 * are dialled at once (the record exchange then runs, and a LAN keeps working with its uplink
 * cut), and the DHT bootstrap peers are redialled whenever no connection to them is open. Also
 * logs every connection opened and closed (debug, `mesh.conn`).
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../../common/log.ts';
import { looksLikePskMismatch } from '../errors.ts';
import type { Directory } from '../records/directory.ts';
import { toMultiaddr } from './address.ts';

/** Deadline of one mDNS or bootstrap dial. */
const DIAL_TIMEOUT_MS = 5_000;
/** How often the bootstrap peers are checked (and redialled when not connected). */
const BOOTSTRAP_INTERVAL_MS = 10_000;

export interface PeeringInit {
  /** DHT bootstrap peers (`IP:PORT` or multiaddr), read on every round (hot reload). */
  bootstrap: () => string[];
  /** Port of a bootstrap address given without one. */
  defaultPort: number;
  /** Called for each dial that failed as a PSK mismatch (metrics). */
  onPskMismatch: () => void;
}

export interface Peering {
  /** Starts dialling mDNS discoveries and logging connections; returns the function that stops it. */
  listen(): () => void;
  /** Keeps the bootstrap peers connected until `signal` aborts; resolves once stopped. */
  bootstrap(signal: AbortSignal): Promise<void>;
}

export function createPeering(
  init: PeeringInit,
  components: { libp2p: Libp2p; directory: Directory; log: Logger },
): Peering {
  const { libp2p, directory, log } = components;
  const connLog = log.child({ component: 'mesh.conn' });
  const pskWarned = new Set<string>();

  const dialQuietly = async (target: PeerId | Multiaddr, why: string) => {
    try {
      await libp2p.dial(target, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
    } catch (err) {
      const key = target.toString();
      if (looksLikePskMismatch(err)) {
        init.onPskMismatch();
        if (!pskWarned.has(key)) {
          pskWarned.add(key);
          log.warn(
            { code: 'ERR_PSK_MISMATCH', target: key, why },
            'peer refused our handshake: PSK mismatch (or not a fedmesh peer)',
          );
        }
      } else {
        log.debug({ target: key, why, err: (err as Error).message }, 'dial failed');
      }
    }
  };
  const onDiscovery = (evt: CustomEvent<{ id: PeerId }>) => {
    if (libp2p.getConnections(evt.detail.id).length === 0) void dialQuietly(evt.detail.id, 'mdns');
  };
  const onConnEvent = (what: string) => (evt: CustomEvent<Connection>) => {
    const c = evt.detail;
    connLog.debug(
      {
        peer: c.remotePeer.toString(),
        node: directory.nameOf(c.remotePeer.toString()),
        addr: c.remoteAddr.toString(),
        direction: c.direction,
      },
      what,
    );
  };
  const onConnOpen = onConnEvent('connection opened');
  const onConnClose = onConnEvent('connection closed');

  return {
    listen() {
      libp2p.addEventListener('peer:discovery', onDiscovery);
      libp2p.addEventListener('connection:open', onConnOpen);
      libp2p.addEventListener('connection:close', onConnClose);
      return () => {
        libp2p.removeEventListener('peer:discovery', onDiscovery);
        libp2p.removeEventListener('connection:open', onConnOpen);
        libp2p.removeEventListener('connection:close', onConnClose);
      };
    },
    async bootstrap(signal) {
      while (!signal.aborted) {
        for (const b of init.bootstrap()) {
          const ma = toMultiaddr(b, init.defaultPort);
          const connected = libp2p.getConnections().some((c) => c.remoteAddr.decapsulateCode(421).equals(ma));
          if (!connected) await dialQuietly(ma, 'dht bootstrap');
        }
        await new Promise((r) => {
          const t = setTimeout(r, BOOTSTRAP_INTERVAL_MS);
          signal.addEventListener('abort', () => r(clearTimeout(t)), { once: true });
        });
      }
    },
  };
}
