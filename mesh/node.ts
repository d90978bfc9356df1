/**
 * One mesh node: identity, libp2p, records, relays, dialer and tunnels wired together, with the
 * lifecycle `start(signal)` (resolves once stopped) and `ready` (resolves once reachable).
 */
import type { Connection, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../common/log.ts';
import type { Registry } from '../common/metrics.ts';
import { DEFAULT_LISTEN_PORT } from './constants.ts';
import { looksLikePskMismatch } from './errors.ts';
import { pskFingerprint } from './pnet/psk.ts';
import type { PskMismatch } from './pnet/psk-guard.ts';
import { createDirectory } from './records/directory.ts';
import { loadOrCreateIdentity } from './records/identity.ts';
import { createRecordService, type Dht } from './records/records.ts';
import { createRelayDiscovery, type ProviderDht, type RelayDiscoveryStatus } from './relays/discovery.ts';
import { createReachability, type ReachabilityStatus } from './relays/reachability.ts';
import { createRelayManager, type RelayNode, type RelayStatus } from './relays/relays.ts';
import { hostOf, isCircuit, toMultiaddr } from './transport/address.ts';
import { createDialer } from './transport/dial.ts';
import { buildLibp2p } from './transport/libp2p.ts';
import { createHolePuncher, type NatMapping } from './transport/punch.ts';
import type { SessionInit } from './tunnel/session/session.ts';
import { createTargetPolicy, DEFAULT_ALLOW, type TargetPolicy } from './tunnel/targets.ts';
import { createTunnelService, type MeshTunnel, type OpenTunnelOptions, type TunnelInfo } from './tunnel/tunnel.ts';

export interface MeshNodeInit {
  /** Kubernetes node name of this node (DNS-1123 subdomain). */
  name: string;
  /** Where the identity key and known-node pins live (created 0700). */
  stateDir: string;
  /** PSK file bytes, as returned by `parsePsk`/`readPskFile`. */
  psk: Uint8Array;
  /** TCP listen addresses. Default `0.0.0.0:20006`. */
  listen?: Array<{ host: string; port: number }>;
  /** Extra addresses to announce (`IP`, `IP:PORT` or multiaddr), e.g. a public IP in front of NAT. */
  announce?: string[];
  /**
   * Relay nodes (EdgeMesh `relayNodes`); a node listed here serves as a relay. Default none: then
   * relays are automatic — publicly reachable nodes serve and are found through the DHT
   * (relays/discovery.ts).
   */
  relayNodes?: RelayNode[];
  /** Find LAN peers with mDNS. Default true. */
  mdns?: boolean;
  /** Extra DHT bootstrap peers (`IP:PORT` or multiaddr); relays always bootstrap. Default none. */
  dhtBootstrap?: string[];
  /** Relay reservations to hold (nearest first). Default 2. */
  reservations?: number;
  /** Targets tunnel requests may dial (see tunnel/targets.ts). Default loopback only. */
  tunnelAllow?: string[];
  /** Session tuning (buffer, keepalive, timeouts). */
  session?: Omit<SessionInit, 'id' | 'onDetached' | 'onClosed'>;
  /**
   * Local port all outbound dials leave from, which makes hole punching possible through
   * endpoint-independent NATs (transport/punch.ts). Default: listen port + 1; 0 disables hole punching.
   */
  dialPort?: number;
}

export interface MeshNodeComponents {
  log: Logger;
  registry?: Registry;
}

/** What can change on a running node (hot reload). */
export interface MeshReconfig {
  relayNodes?: RelayNode[];
  tunnelAllow?: string[];
  dhtBootstrap?: string[];
}

export interface PeerStatus {
  peer: string;
  node?: string;
  route: 'direct' | 'relayed';
  addr: string;
}

export interface MeshStatus {
  name: string;
  peerId: string;
  relay: boolean;
  addrs: string[];
  /** Relays from `relayNodes` (`source: configured`) and from the DHT (`source: discovered`). */
  relays: RelayStatus[];
  /** How relays are chosen (`automatic` without `relayNodes`) and whether this node serves as one. */
  relayDiscovery: RelayDiscoveryStatus;
  /** Dial-back verdicts of peers: is this node publicly reachable? */
  reachability: ReachabilityStatus;
  peers: PeerStatus[];
  tunnels: TunnelInfo[];
  /** Our NAT's mapping behaviour as our relays observe it. */
  nat: { mapping: NatMapping; observed: string[] };
}

export interface MeshNode {
  readonly name: string;
  readonly peerId: PeerId;
  /** Resolves once the node listens and has published its record. */
  readonly ready: Promise<void>;
  /** Runs the node until `signal` aborts; resolves once everything stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** A byte stream to `host:port` as seen from node `node`. */
  openTunnel(opts: OpenTunnelOptions): Promise<MeshTunnel>;
  /** Applies a configuration change without a restart. */
  reconfigure(change: MeshReconfig): void;
  status(): MeshStatus;
  /** The libp2p node (diagnostics and tests). */
  readonly libp2p: Awaited<ReturnType<typeof buildLibp2p>>['node'];
}

export async function createMeshNode(init: MeshNodeInit, components: MeshNodeComponents): Promise<MeshNode> {
  const log = components.log;
  const identity = await loadOrCreateIdentity(init.stateDir);
  const peerId = peerIdFromPrivateKey(identity.privateKey);
  const listen = init.listen ?? [{ host: '0.0.0.0', port: DEFAULT_LISTEN_PORT }];
  const listenPort = listen[0]?.port ?? DEFAULT_LISTEN_PORT;
  let policy: TargetPolicy = createTargetPolicy(init.tunnelAllow ?? DEFAULT_ALLOW);
  let bootstrap = init.dhtBootstrap ?? [];
  let isRelayNow = false;
  const dialPort = init.dialPort === 0 ? undefined : (init.dialPort ?? listenPort + 1);
  const registry = components.registry;
  const pskMismatches = registry?.counter(
    'fedmesh_mesh_psk_mismatch_total',
    'Handshakes that failed as a PSK mismatch (or not a fedmesh peer): inbound = accepted, outbound = our dials to relays and bootstrap/mDNS peers',
  );
  const pskLoggedAt = new Map<string, number>();
  /** The accepting side (pnet/psk-guard.ts); the dialing side logs its own failures where it dials. */
  const onPskMismatch = (m: PskMismatch) => {
    pskMismatches?.inc(1, { direction: 'inbound' });
    let host = m.remoteAddr;
    try {
      host = hostOf(multiaddr(m.remoteAddr)) ?? m.remoteAddr;
    } catch {
      // Keep the text as it came.
    }
    const now = performance.now();
    // One line per remote host per minute: a misconfigured peer retries every few seconds.
    if (now - (pskLoggedAt.get(host) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
    pskLoggedAt.set(host, now);
    if (pskLoggedAt.size > 1024) pskLoggedAt.clear();
    log.warn(
      { code: 'ERR_PSK_MISMATCH', remote: m.remoteAddr, direction: 'inbound' },
      'inbound connection failed the handshake: PSK mismatch (or not a fedmesh peer)',
    );
  };

  const { node: libp2p, internals } = await buildLibp2p({
    privateKey: identity.privateKey,
    psk: init.psk,
    listen: listen.map((l) => `/ip${l.host.includes(':') ? 6 : 4}/${l.host}/tcp/${l.port}`),
    announce: init.announce?.map((a) => toMultiaddr(a, listenPort).toString()),
    mdns: init.mdns ?? true,
    isRelay: () => isRelayNow,
    dialPort,
    onPskMismatch,
  });
  const directory = createDirectory();
  const records = createRecordService(
    { name: init.name, stateDir: init.stateDir, privateKey: identity.privateKey, directory, isRelay: () => isRelayNow },
    { libp2p, dht: libp2p.services.dht as unknown as Dht, log },
  );
  const relays = createRelayManager(
    {
      name: init.name,
      reservations: init.reservations,
      onReservationsChanged: () => void records.publish(),
      onPskMismatch: () => pskMismatches?.inc(1, { direction: 'outbound' }),
      onRelayRoleChanged: (relay) => {
        isRelayNow = relay;
        announceSelf();
        void records.publish();
      },
    },
    { libp2p, transportManager: internals.transportManager, directory, log },
  );
  let relayList = init.relayNodes ?? [];
  const announced = new Set<string>();
  /** A relay announces its configured advertise addresses (e.g. a public IP in front of it). */
  const announceSelf = () => {
    const mine = isRelayNow ? (relayList.find((r) => r.nodeName === init.name)?.advertiseAddress ?? []) : [];
    const want = new Set(mine.map((a) => toMultiaddr(a, listenPort).toString()));
    for (const a of announced) if (!want.has(a)) internals.addressManager.removeObservedAddr(multiaddr(a));
    for (const a of want) internals.addressManager.confirmObservedAddr(multiaddr(a), { type: 'transport' });
    announced.clear();
    for (const a of want) announced.add(a);
  };
  records.onRecord(() => relays.poke());
  /** Automatic relays (serve when public, find relays in the DHT) exactly when no relay is configured. */
  const automatic = () => relayList.length === 0;
  const reachability = createReachability(
    { active: automatic, onChange: () => discovery.poke() },
    { libp2p, transportManager: internals.transportManager, log },
  );
  const discovery = createRelayDiscovery(
    { automatic },
    { dht: libp2p.services.dht as unknown as ProviderDht, relays, reachability, log },
  );
  const dialer = createDialer({ libp2p, transportManager: internals.transportManager, directory, relays, log });
  const puncher = createHolePuncher(
    { dialPort },
    { libp2p, transportManager: internals.transportManager, directory, log },
  );
  const tunnels = createTunnelService(
    { name: init.name, policy: () => policy, session: init.session },
    {
      libp2p,
      dialer,
      records,
      directory,
      log,
      metrics: registry && {
        refused: registry.counter('fedmesh_mesh_tunnel_refused_total', 'Tunnel requests refused, by reason'),
        resumes: registry.counter('fedmesh_mesh_tunnel_resumes_total', 'Tunnel sessions resumed on a new path'),
        failover: registry.histogram(
          'fedmesh_mesh_tunnel_failover_seconds',
          'Time from losing a tunnel path to resuming on another',
          [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        ),
      },
    },
  );
  if (registry) {
    registry.gauge('fedmesh_mesh_peers', 'Connected peers', () => libp2p.getPeers().length);
    registry.gauge(
      'fedmesh_mesh_relay_reservations',
      'Relay reservations held',
      () => relays.status().filter((r) => r.reserved).length,
    );
    registry.gauge('fedmesh_mesh_tunnels', 'Open tunnels', () => tunnels.list().length);
    registry.gauge('fedmesh_mesh_relay', '1 while this node serves as a relay', () => (isRelayNow ? 1 : 0));
    registry.gauge('fedmesh_mesh_public_reachable', '1 while peers confirm this node is reachable (dial-back)', () =>
      reachability.reachable() ? 1 : 0,
    );
    // Labelled gauges are set by the unlabelled one before them, which the registry renders first.
    registry.gauge('fedmesh_mesh_relays_usable', 'Relays connected and verified, all sources', () => {
      const usable = relays.usable();
      const reserved = { configured: 0, discovered: 0 };
      for (const r of relays.status()) if (r.reserved) reserved[r.source]++;
      for (const source of ['configured', 'discovered'] as const) {
        usableBySource.set(usable[source], { source });
        reservedBySource.set(reserved[source], { source });
      }
      return usable.configured + usable.discovered;
    });
    const usableBySource = registry.gauge('fedmesh_mesh_relays_usable_by_source', 'Relays usable, by source');
    const reservedBySource = registry.gauge(
      'fedmesh_mesh_relay_reservations_by_source',
      'Relay reservations held, by source (configured or discovered)',
    );
  }

  let resolveReady: () => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});

  const pskWarned = new Set<string>();
  const dialQuietly = async (target: PeerId | ReturnType<typeof multiaddr>, why: string) => {
    try {
      await libp2p.dial(target, { signal: AbortSignal.timeout(5_000) });
    } catch (err) {
      const key = target.toString();
      if (looksLikePskMismatch(err)) {
        pskMismatches?.inc(1, { direction: 'outbound' });
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
    // mDNS found a LAN peer: connect now, so the record exchange runs and the LAN keeps working
    // when the way to the relays is cut.
    if (libp2p.getConnections(evt.detail.id).length === 0) void dialQuietly(evt.detail.id, 'mdns');
  };
  const connLog = log.child({ component: 'mesh.conn' });
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
  let addrTimer: NodeJS.Timeout | undefined;
  const onSelfUpdate = () => {
    clearTimeout(addrTimer);
    addrTimer = setTimeout(() => void records.publish(), 100);
  };

  const mesh: MeshNode = {
    name: init.name,
    peerId,
    ready,
    libp2p,
    openTunnel: (opts) => tunnels.open(opts),
    reconfigure(change) {
      if (change.tunnelAllow) {
        policy = createTargetPolicy(change.tunnelAllow);
        log.info({ allow: change.tunnelAllow }, 'tunnel allow-list changed');
      }
      if (change.dhtBootstrap) bootstrap = change.dhtBootstrap;
      if (change.relayNodes) {
        relayList = change.relayNodes;
        relays.update(relayList, listenPort);
        announceSelf();
        dialer.reset();
        discovery.poke();
      }
    },
    status() {
      return {
        name: init.name,
        peerId: peerId.toString(),
        relay: isRelayNow,
        addrs: libp2p.getMultiaddrs().map(String),
        relays: relays.status(),
        relayDiscovery: discovery.status(),
        reachability: reachability.status(),
        peers: libp2p
          .getConnections()
          .filter((c) => c.status === 'open')
          .map((c) => ({
            peer: c.remotePeer.toString(),
            node: directory.nameOf(c.remotePeer.toString()),
            route: isCircuit(c) ? 'relayed' : 'direct',
            addr: c.remoteAddr.toString(),
          })),
        tunnels: tunnels.list(),
        nat: puncher.mapping(),
      };
    },
    async start(signal) {
      try {
        relays.update(relayList, listenPort);
        await libp2p.start();
        announceSelf();
        libp2p.addEventListener('peer:discovery', onDiscovery);
        libp2p.addEventListener('self:peer:update', onSelfUpdate);
        libp2p.addEventListener('connection:open', onConnOpen);
        libp2p.addEventListener('connection:close', onConnClose);
        await tunnels.start();
        await puncher.start();
        await records.start();
        log.info(
          {
            peer: peerId.toString(),
            identity: identity.created ? 'generated' : 'loaded',
            pskId: pskFingerprint(init.psk),
            addrs: libp2p.getMultiaddrs().map(String),
            relay: isRelayNow,
          },
          'mesh node started',
        );
        resolveReady();
      } catch (err) {
        rejectReady(err);
        await Promise.resolve(libp2p.stop()).catch(() => {});
        throw err;
      }
      const loop = Promise.all([relays.start(signal), reachability.start(signal), discovery.start(signal)]);
      const boot = (async () => {
        while (!signal.aborted) {
          for (const b of bootstrap) {
            const ma = toMultiaddr(b, listenPort);
            const connected = libp2p.getConnections().some((c) => c.remoteAddr.decapsulateCode(421).equals(ma));
            if (!connected) await dialQuietly(ma, 'dht bootstrap');
          }
          await new Promise((r) => {
            const t = setTimeout(r, 10_000);
            signal.addEventListener('abort', () => r(clearTimeout(t)), { once: true });
          });
        }
      })();
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      clearTimeout(addrTimer);
      libp2p.removeEventListener('peer:discovery', onDiscovery);
      libp2p.removeEventListener('self:peer:update', onSelfUpdate);
      libp2p.removeEventListener('connection:open', onConnOpen);
      libp2p.removeEventListener('connection:close', onConnClose);
      await Promise.all([loop, boot]);
      await tunnels.stop();
      await puncher.stop();
      await records.stop();
      await libp2p.stop();
      log.info('mesh node stopped');
    },
  };
  return mesh;
}
