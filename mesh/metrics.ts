/**
 * The node's Prometheus series, other than the ones its parts count themselves (PSK mismatches:
 * pnet/mismatch.ts): tunnel counters, and gauges read from the parts at scrape time.
 */
import type { Libp2p } from '@libp2p/interface';
import type { Registry } from '../common/metrics.ts';
import type { ServiceForwardMetrics } from './advertise/client.ts';
import type { Reachability } from './relays/reachability.ts';
import type { RelayManager } from './relays/relays.ts';
import type { TunnelService, TunnelServiceComponents } from './tunnel/tunnel.ts';

/** Tunnel refusals, resumes and failover times (counted by the tunnel service). */
export function tunnelMetrics(registry: Registry): NonNullable<TunnelServiceComponents['metrics']> {
  return {
    refused: registry.counter('fedmesh_mesh_tunnel_refused_total', 'Tunnel requests refused, by reason'),
    resumes: registry.counter('fedmesh_mesh_tunnel_resumes_total', 'Tunnel sessions resumed on a new path'),
    failover: registry.histogram(
      'fedmesh_mesh_tunnel_failover_seconds',
      'Time from losing a tunnel path to resuming on another',
      [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    ),
  };
}

/** Connections made by `@service` forwards, by service, result and path; failovers; providers known. */
export function serviceForwardMetrics(registry: Registry): ServiceForwardMetrics {
  return {
    connections: registry.counter(
      'fedmesh_mesh_service_forward_connections_total',
      'Connections of @service forwards, by service, result (ok, failed, no-provider) and path (direct, punched, relayed)',
    ),
    failovers: registry.counter(
      'fedmesh_mesh_service_forward_failovers_total',
      'Provider attempts of @service forwards that failed and moved on to the next provider',
    ),
    providers: registry.gauge(
      'fedmesh_mesh_service_forward_providers',
      'Providers known of a forwarded service at its last connection',
    ),
  };
}

/** Peers, reservations, tunnels, relay role and reachability, read when scraped. */
export function registerNodeGauges(
  registry: Registry,
  parts: {
    libp2p: Libp2p;
    relays: RelayManager;
    tunnels: TunnelService;
    reachability: Reachability;
    isRelay: () => boolean;
  },
): void {
  const { libp2p, relays, tunnels, reachability } = parts;
  registry.gauge('fedmesh_mesh_peers', 'Connected peers', () => libp2p.getPeers().length);
  registry.gauge(
    'fedmesh_mesh_relay_reservations',
    'Relay reservations held',
    () => relays.status().filter((r) => r.reserved).length,
  );
  registry.gauge('fedmesh_mesh_tunnels', 'Open tunnels', () => tunnels.list().length);
  registry.gauge('fedmesh_mesh_relay', '1 while this node serves as a relay', () => (parts.isRelay() ? 1 : 0));
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
