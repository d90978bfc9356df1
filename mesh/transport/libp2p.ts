/**
 * The libp2p 3 node a mesh node runs: TCP, noise, yamux (windows capped), pnet (ours: mesh/pnet/), identify, ping,
 * circuit relay v2 (client and server), autonat, optional mDNS and a private kad-dht. DCUtR is
 * ours (punch.ts, same wire protocol) because hole punching needs two things @libp2p/dcutr 3
 * cannot do: dial from a fixed local port, and accept non-global test-net addresses. Only
 * standard libp2p protocols plus ours under `/fedmesh/`, so a stock libp2p relay given the same
 * PSK works as a relay for us.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { autoNAT } from '@libp2p/autonat';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, identifyPush } from '@libp2p/identify';
import type { PrivateKey, Transport } from '@libp2p/interface';
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import {
  DHT_PROTOCOL,
  DHT_RECORD_NAMESPACE,
  INBOUND_CONNECTIONS_PER_HOST_PER_S,
  MDNS_SERVICE_TAG,
  RELAY_MAX_CIRCUITS,
  RELAY_MAX_RESERVATIONS,
  RELAY_PROVIDER_TTL_MS,
  RELAY_RESERVATION_TTL_MS,
  YAMUX_MAX_STREAM_WINDOW,
} from '../constants.ts';
import type { PskKeyRing } from '../pnet/keyring.ts';
import { pskProtector } from '../pnet/protector.ts';
import { guardProtector, type PskMismatch } from '../pnet/psk-guard.ts';
import { selectDhtRecord, validateDhtRecord } from '../records/records.ts';
import { nodeNoiseCrypto } from './noise-crypto.ts';

/** libp2p internals the mesh drives directly (reservations on chosen relays, announced addresses). */
export interface Internals {
  transportManager: TransportManager;
  addressManager: AddressManager;
  connectionManager: ConnectionManager;
}

export interface Libp2pInit {
  privateKey: PrivateKey;
  /** The PSK file's bytes, or the keys of a rotation (pnet/keyring.ts). */
  psk: Uint8Array | PskKeyRing;
  listen: string[];
  announce?: string[];
  mdns: boolean;
  /** mDNS query interval (ms). */
  mdnsIntervalMs?: number;
  /** Decides, per request, whether this node relays (the role can change at runtime). */
  isRelay: () => boolean;
  /**
   * Local port every outbound TCP dial binds to (SO_REUSEADDR, as libuv sets on bind). One port
   * for all dials gives an endpoint-independent NAT one mapping, which peers can then punch.
   * Undefined: ephemeral ports.
   */
  dialPort?: number;
  /** Called when a connection's first bytes after the PSK handshake show another key (pnet/psk-guard.ts). */
  onPskMismatch?: (m: PskMismatch) => void;
}

/** Socket errors that mean "this local port cannot make that connection now" (in use, 4-tuple in TIME_WAIT). */
const PORT_CONFLICT = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);

/**
 * A dial made "as the responder" (DCUtR's B side, `initiator: false`) must also run yamux as the
 * server. libp2p 3.3's upgrader takes the yamux role from the raw connection's direction, which a
 * dial always marks outbound: both ends of a simultaneous-open connection then act as yamux
 * clients and the connection dies at its first streams ("Both endpoints are clients").
 */
function responderAware<O extends { upgrader: object; initiator?: boolean }>(options: O): O {
  if (options.initiator !== false) return options;
  const upgrader = options.upgrader as { upgradeOutbound(m: { direction: string }, o: unknown): unknown };
  const wrapped = new Proxy(upgrader, {
    get: (t, p, r) =>
      p === 'upgradeOutbound'
        ? (maConn: { direction: string }, o: unknown) => {
            maConn.direction = 'inbound';
            return t.upgradeOutbound(maConn, o);
          }
        : Reflect.get(t, p, r),
  });
  return { ...options, upgrader: wrapped };
}

/**
 * @libp2p/tcp passes its dial options to `net.connect`; this wraps it to add `localPort`, and to
 * fall back to an ephemeral port when the fixed one cannot make a connection.
 */
function fixedPortTcp(dialPort: number | undefined) {
  const factory = tcp();
  return (components: Parameters<typeof factory>[0]): Transport => {
    const inner = factory(components);
    if (dialPort === undefined) return inner;
    const dial: Transport['dial'] = async (ma, raw) => {
      const options = responderAware(raw as typeof raw & { initiator?: boolean });
      try {
        return await inner.dial(ma, { ...options, localPort: dialPort } as typeof options);
      } catch (err) {
        if (!PORT_CONFLICT.has((err as { code?: string }).code ?? '')) throw err;
        return inner.dial(ma, options);
      }
    };
    return new Proxy(inner, { get: (t, p, r) => (p === 'dial' ? dial : Reflect.get(t, p, r)) });
  };
}

export async function buildLibp2p(init: Libp2pInit) {
  let internals: Internals | undefined;
  const node = await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: init.listen, appendAnnounce: init.announce ?? [] },
    transports: [
      fixedPortTcp(init.dialPort),
      circuitRelayTransport({ maxInboundStopStreams: RELAY_MAX_CIRCUITS, maxOutboundStopStreams: RELAY_MAX_CIRCUITS }),
    ],
    // Same Noise XX / ChaCha20-Poly1305 on the wire; node:crypto with cached keys (noise-crypto.ts).
    connectionEncrypters: [noise({ crypto: nodeNoiseCrypto })],
    streamMuxers: [
      yamux({ streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW } } as Parameters<typeof yamux>[0]),
    ],
    // Wrapped so a wrong key is recognised on the accepting side too (pnet/psk-guard.ts).
    connectionProtector: guardProtector(
      pskProtector(init.psk instanceof Uint8Array ? { psk: init.psk } : { ring: init.psk }),
      (m) => init.onPskMismatch?.(m),
    ),
    connectionGater: {
      // The relay server always runs; the role is decided here so it can change without a restart.
      denyInboundRelayReservation: async () => !init.isRelay(),
      denyOutboundRelayedConnection: async () => !init.isRelay(),
    },
    connectionManager: { maxConnections: 2048, inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_S },
    peerDiscovery: init.mdns ? [mdns({ serviceTag: MDNS_SERVICE_TAG, interval: init.mdnsIntervalMs ?? 2_000 })] : [],
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      // Our relay probes and libp2p's connection monitor both ping: allow both at once.
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 8 }),
      autonat: autoNAT(),
      relay: circuitRelayServer({
        // No per-circuit data or duration limit: relays carry proxied traffic of any length.
        reservations: {
          maxReservations: RELAY_MAX_RESERVATIONS,
          applyDefaultLimit: false,
          reservationTtl: RELAY_RESERVATION_TTL_MS,
        },
        maxInboundHopStreams: RELAY_MAX_CIRCUITS,
        maxOutboundStopStreams: RELAY_MAX_CIRCUITS,
      }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // Every node answers queries: the network is private, and test/edge addresses are private.
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators: { [DHT_RECORD_NAMESPACE]: validateDhtRecord },
        selectors: { [DHT_RECORD_NAMESPACE]: selectDhtRecord },
        // Only relays provide (relays/discovery.ts): their records must age out soon after they stop.
        providers: { provideValidity: RELAY_PROVIDER_TTL_MS / 1000 },
      }),
      internals: (components: Internals) => {
        internals = components;
        return {};
      },
    },
  });
  if (!internals) throw new Error('libp2p did not construct the internals service');
  return { node, internals: internals as Internals };
}

export type MeshLibp2p = Awaited<ReturnType<typeof buildLibp2p>>['node'];
