/**
 * One mesh node: identity, libp2p, records, relays, dialer and tunnels wired together, with the
 * lifecycle `start(signal)` (resolves once stopped) and `ready` (resolves once reachable). Only
 * the wiring and the lifecycle are here; `/status` is assembled in status.ts, the gauges in
 * metrics.ts, PSK mismatch reporting in pnet/mismatch.ts, mDNS and bootstrap dials in
 * transport/peering.ts.
 */
import type { KeyObject } from 'node:crypto';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../common/log.ts';
import type { Registry } from '../common/metrics.ts';
import type { PathClass } from './advertise/choice.ts';
import { createServiceClient, type OpenServiceOptions, type ServiceClient } from './advertise/client.ts';
import { endorse } from './advertise/endorse.ts';
import { createServiceProviders } from './advertise/providers.ts';
import { type AdvertisedService, advertisedRules } from './advertise/service.ts';
import { DEFAULT_LISTEN_PORT } from './constants.ts';
import { createHealthAgent, type HealthAgent } from './health/agent.ts';
import type { HealthConfig } from './health/config.ts';
import { registerNodeGauges, serviceForwardMetrics, tunnelMetrics } from './metrics.ts';
import type { PskKeyRing } from './pnet/keyring.ts';
import { createPskMismatchReport } from './pnet/mismatch.ts';
import { pskFingerprint } from './pnet/psk.ts';
import { createDirectory } from './records/directory.ts';
import { loadOrCreateIdentity } from './records/identity.ts';
import type { RecordStore } from './records/kube-store.ts';
import { createRecordService, type Dht } from './records/records.ts';
import { createRelayDiscovery, type ProviderDht } from './relays/discovery.ts';
import { createReachability } from './relays/reachability.ts';
import { createRelayManager, type RelayNode } from './relays/relays.ts';
import { type MeshStatus, meshStatus } from './status.ts';
import { toMultiaddr } from './transport/address.ts';
import { createDialer } from './transport/dial.ts';
import { buildLibp2p } from './transport/libp2p.ts';
import { createPeering } from './transport/peering.ts';
import { createHolePuncher } from './transport/punch.ts';
import type { SessionInit } from './tunnel/session/session.ts';
import { createTargetPolicy, DEFAULT_ALLOW, type TargetPolicy } from './tunnel/targets.ts';
import { createTunnelService, type MeshTunnel, type OpenTunnelOptions } from './tunnel/tunnel.ts';

export interface MeshNodeInit {
  /** Kubernetes node name of this node (DNS-1123 subdomain). */
  name: string;
  /** Where the identity key and known-node pins live (created 0700). */
  stateDir: string;
  /** Where records are also published and looked up (the Kubernetes API, records/kube-store.ts). */
  recordStore?: RecordStore;
  /** PSK file bytes, as returned by `parsePsk`/`readPskFile`, or the keys of a rotation (pnet/keyring.ts). */
  psk: Uint8Array | PskKeyRing;
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
  /** This node's health zone (a label value), published in its record. Default none. */
  zone?: string;
  /** Node-health probes and views (mesh/health/agent.ts). Default off. */
  health?: HealthConfig;
  /**
   * Services this node fronts (advertise/): published in its record and provided in the DHT; their
   * targets are admitted by the tunnel responder whatever `tunnelAllow` says. Default none.
   */
  advertise?: AdvertisedService[];
  /** Signs each advertised service for this peer (advertise/endorse.ts). Default: none, unendorsed. */
  serviceKey?: KeyObject;
  /**
   * Trusted service keys per service name: a forwarded service listed here goes only to providers
   * endorsed by one of its keys. Services not listed accept any provider. Default none.
   */
  serviceKeys?: Record<string, KeyObject[]>;
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
  /** New health timing and zones; `undefined` leaves them. Turning health on or off needs a restart. */
  health?: HealthConfig | null;
  /** The services this node advertises now (replaces the list; `[]` stops advertising). */
  advertise?: AdvertisedService[];
  /** Trusted service keys now (replaces them). */
  serviceKeys?: Record<string, KeyObject[]>;
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
  /** A byte stream to one node advertising `service` (the best path first, failover to the next). */
  openService(opts: OpenServiceOptions): ReturnType<ServiceClient['open']>;
  /** Starts finding and measuring providers of `service` ahead of the first connection (a forward). */
  watchService(service: string): void;
  /** The path held to a node now and its smoothed RTT in ms (the service proxy's endpoint choice). */
  pathTo(node: string): { path: PathClass; rttMs?: number };
  /** A round-trip sample to a node (a tunnel open timed by the service proxy). */
  observed(node: string, ms: number): void;
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
  let allow = init.tunnelAllow ?? DEFAULT_ALLOW;
  let advertised = init.advertise ?? [];
  let trusted = init.serviceKeys ?? {};
  /** What the record carries: each service with this peer's endorsement when there is a service key. */
  const endorsedServices = () =>
    advertised.map((s) =>
      init.serviceKey ? { ...s, endorsement: endorse(s.name, peerId.toString(), init.serviceKey) } : s,
    );
  // Advertised targets are admitted whatever the allow-list says: advertising one is the operator's consent.
  const makePolicy = () => createTargetPolicy([...allow, ...advertisedRules(advertised)]);
  let policy: TargetPolicy = makePolicy();
  let bootstrap = init.dhtBootstrap ?? [];
  let isRelayNow = false;
  const dialPort = init.dialPort === 0 ? undefined : (init.dialPort ?? listenPort + 1);
  const registry = components.registry;
  const pskMismatch = createPskMismatchReport({ log, registry });

  const { node: libp2p, internals } = await buildLibp2p({
    privateKey: identity.privateKey,
    psk: init.psk,
    listen: listen.map((l) => `/ip${l.host.includes(':') ? 6 : 4}/${l.host}/tcp/${l.port}`),
    announce: init.announce?.map((a) => toMultiaddr(a, listenPort).toString()),
    mdns: init.mdns ?? true,
    isRelay: () => isRelayNow,
    dialPort,
    onPskMismatch: (m) => pskMismatch.inbound(m),
  });
  const directory = createDirectory();
  const records = createRecordService(
    {
      name: init.name,
      stateDir: init.stateDir,
      privateKey: identity.privateKey,
      directory,
      isRelay: () => isRelayNow,
      zone: init.zone,
      services: endorsedServices,
      store: init.recordStore,
    },
    { libp2p, dht: libp2p.services.dht as unknown as Dht, log },
  );
  const relays = createRelayManager(
    {
      name: init.name,
      reservations: init.reservations,
      onReservationsChanged: () => void records.publish(),
      onPskMismatch: () => pskMismatch.outbound(),
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
      metrics: registry && tunnelMetrics(registry),
    },
  );
  const pingService = (libp2p.services as { ping: { ping(p: PeerId, o: object): Promise<number> } }).ping;
  const services = createServiceProviders(
    { self: peerId.toString(), advertised: () => advertised, trusted: (service) => trusted[service] },
    {
      libp2p,
      dht: libp2p.services.dht as unknown as ProviderDht,
      directory,
      connect: (peer, signal) => dialer.connect(peer, signal),
      isPunched: (conn) => puncher.isPunched(conn),
      ping: (peer, signal) => pingService.ping(peer, { signal }),
      log,
    },
  );
  const serviceClient = createServiceClient({
    providers: services,
    openTunnel: (opts) => tunnels.open(opts),
    log,
    metrics: registry && serviceForwardMetrics(registry),
  });
  const health: HealthAgent | undefined = init.health
    ? await createHealthAgent(
        { self: init.name, peerId: peerId.toString(), stateDir: init.stateDir, zone: init.zone, config: init.health },
        {
          key: identity.privateKey,
          directory,
          libp2p,
          connect: (peer, signal) => dialer.connect(peer, signal),
          ping: (peer, signal) => pingService.ping(peer, { signal }),
          log,
          registry,
        },
      )
    : undefined;
  if (registry) registerNodeGauges(registry, { libp2p, relays, tunnels, reachability, isRelay: () => isRelayNow });

  let resolveReady: () => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});

  const peering = createPeering(
    { bootstrap: () => bootstrap, defaultPort: listenPort, onPskMismatch: () => pskMismatch.outbound() },
    { libp2p, directory, log },
  );
  let stopPeering: (() => void) | undefined;
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
    openService: (opts) => serviceClient.open(opts),
    watchService: (service) => services.want(service),
    pathTo(node) {
      const peer = directory.peerOf(node);
      const rttMs = peer ? services.rttOf(peer) : undefined;
      return { path: peer ? services.pathOf(peer) : 'none', ...(rttMs === undefined ? {} : { rttMs }) };
    },
    observed(node, ms) {
      const peer = directory.peerOf(node);
      if (peer) services.sample(peer, ms);
    },
    reconfigure(change) {
      if (change.tunnelAllow) {
        allow = change.tunnelAllow;
        policy = makePolicy();
        log.info({ allow: change.tunnelAllow }, 'tunnel allow-list changed');
      }
      if (change.advertise && JSON.stringify(change.advertise) !== JSON.stringify(advertised)) {
        advertised = change.advertise;
        policy = makePolicy();
        log.info({ advertise: advertised }, 'advertised services changed');
        void records.publish();
        services.poke();
      }
      if (change.serviceKeys) trusted = change.serviceKeys;
      if (change.dhtBootstrap) bootstrap = change.dhtBootstrap;
      if (change.relayNodes) {
        relayList = change.relayNodes;
        relays.update(relayList, listenPort);
        announceSelf();
        dialer.reset();
        discovery.poke();
      }
      if (change.health !== undefined) {
        if (health && change.health) health.reconfigure(change.health);
        else if (Boolean(health) !== Boolean(change.health)) {
          log.warn({ key: 'health' }, 'turning node health on or off takes effect only after a restart');
        }
      }
    },
    status: () =>
      meshStatus({
        name: init.name,
        libp2p,
        isRelay: () => isRelayNow,
        relays,
        discovery,
        reachability,
        directory,
        tunnels,
        puncher,
        health,
        services: () => ({ ...services.status(), last: serviceClient.last() }),
        psk: init.psk instanceof Uint8Array ? undefined : init.psk,
      }),
    async start(signal) {
      try {
        relays.update(relayList, listenPort);
        await libp2p.start();
        announceSelf();
        stopPeering = peering.listen();
        libp2p.addEventListener('self:peer:update', onSelfUpdate);
        await tunnels.start();
        await puncher.start();
        await records.start();
        log.info(
          {
            peer: peerId.toString(),
            identity: identity.created ? 'generated' : 'loaded',
            pskId: init.psk instanceof Uint8Array ? pskFingerprint(init.psk) : init.psk.current.id,
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
      const loop = Promise.all([
        relays.start(signal),
        reachability.start(signal),
        discovery.start(signal),
        health?.start(signal),
        services.start(signal),
      ]);
      const boot = peering.bootstrap(signal);
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      clearTimeout(addrTimer);
      stopPeering?.();
      libp2p.removeEventListener('self:peer:update', onSelfUpdate);
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
