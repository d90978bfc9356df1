/** The proxy's metrics, `fedmesh_mesh_proxy_*`, labelled by Service (namespace/name) and path. */
import type { Registry } from '../../common/metrics.ts';

/**
 * How a connection reached its endpoint: `local` (endpoint on this node), `lan` (dialled directly
 * on the LAN), `mesh-direct`, `mesh-punched`, `mesh-relayed` (a tunnel on that path).
 */
export type ProxyPath = 'local' | 'lan' | 'mesh-direct' | 'mesh-punched' | 'mesh-relayed';

export interface ProxyMetrics {
  connection(service: string, protocol: 'tcp' | 'udp', path: ProxyPath): void;
  bytes(service: string, direction: 'out' | 'in', n: number): void;
  error(service: string, reason: string): void;
  active(delta: number): void;
}

export function proxyMetrics(registry: Registry | undefined): ProxyMetrics {
  if (!registry) {
    const nop = () => {};
    return { connection: nop, bytes: nop, error: nop, active: nop };
  }
  const conns = registry.counter(
    'fedmesh_mesh_proxy_connections_total',
    'Connections (TCP) and flows (UDP) proxied to an endpoint, by Service, protocol and path taken.',
  );
  const bytes = registry.counter(
    'fedmesh_mesh_proxy_bytes_total',
    'Bytes proxied, by Service and direction (out: client to endpoint; in: endpoint to client).',
  );
  const errors = registry.counter(
    'fedmesh_mesh_proxy_errors_total',
    'Connections that reached no endpoint or an endpoint attempt that failed, by Service and reason.',
  );
  let open = 0;
  registry.gauge(
    'fedmesh_mesh_proxy_active_connections',
    'Proxied TCP connections and UDP flows open now.',
    () => open,
  );
  return {
    connection: (service, protocol, path) => conns.inc(1, { service, protocol, path }),
    bytes: (service, direction, n) => n > 0 && bytes.inc(n, { service, direction }),
    error: (service, reason) => errors.inc(1, { service, reason }),
    active: (d) => {
      open += d;
    },
  };
}
