/**
 * What `/status` shows of a node: its addresses, relays, reachability, peers with their route,
 * tunnels and NAT mapping — read from the parts that hold each, at the moment of the call.
 */
import type { Libp2p } from '@libp2p/interface';
import type { ServiceChoice } from './advertise/client.ts';
import type { ServiceProvidersStatus } from './advertise/providers.ts';
import type { HealthAgent, HealthStatus } from './health/agent.ts';
import type { KeyRingStatus } from './pnet/keyring.ts';
import type { Directory } from './records/directory.ts';
import type { RelayDiscovery, RelayDiscoveryStatus } from './relays/discovery.ts';
import type { Reachability, ReachabilityStatus } from './relays/reachability.ts';
import type { RelayManager, RelayStatus } from './relays/relays.ts';
import { isCircuit } from './transport/address.ts';
import type { HolePuncher, NatMapping } from './transport/punch.ts';
import type { TunnelInfo, TunnelService } from './tunnel/tunnel.ts';

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
  /** This node's tally of its health zone (absent when health is off). */
  health?: HealthStatus;
  /** PSK fingerprints: the key in use, and previous ones still accepted (a rotation; absent with a fixed key). */
  psk?: KeyRingStatus;
  /**
   * Services: what this node advertises, the providers of each forwarded service in the order the
   * next connection tries them, and where the last connection of each went.
   */
  services: ServiceProvidersStatus & { last: Record<string, ServiceChoice> };
}

export interface StatusSources {
  name: string;
  libp2p: Libp2p;
  isRelay: () => boolean;
  relays: RelayManager;
  discovery: RelayDiscovery;
  reachability: Reachability;
  directory: Directory;
  tunnels: TunnelService;
  puncher: HolePuncher;
  health?: HealthAgent;
  services: () => MeshStatus['services'];
  psk?: { status(): KeyRingStatus };
}

export function meshStatus(s: StatusSources): MeshStatus {
  return {
    name: s.name,
    peerId: s.libp2p.peerId.toString(),
    relay: s.isRelay(),
    addrs: s.libp2p.getMultiaddrs().map(String),
    relays: s.relays.status(),
    relayDiscovery: s.discovery.status(),
    reachability: s.reachability.status(),
    peers: s.libp2p
      .getConnections()
      .filter((c) => c.status === 'open')
      .map((c) => ({
        peer: c.remotePeer.toString(),
        node: s.directory.nameOf(c.remotePeer.toString()),
        route: isCircuit(c) ? 'relayed' : 'direct',
        addr: c.remoteAddr.toString(),
      })),
    tunnels: s.tunnels.list(),
    nat: s.puncher.mapping(),
    ...(s.health ? { health: s.health.status() } : {}),
    ...(s.psk ? { psk: s.psk.status() } : {}),
    services: s.services(),
  };
}
