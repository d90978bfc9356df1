/** The resolver's metrics, `fedmesh_mesh_dns_*`, with bounded label values. */
import type { Counter, Registry } from '../../common/metrics.ts';

export interface DnsMetrics {
  query(type: string, rcode: string, transport: 'udp' | 'tcp'): void;
  cache(result: 'hit' | 'miss'): void;
  upstreamError(upstream: string, reason: string): void;
  rateLimited(transport: 'udp' | 'tcp'): void;
  malformed(transport: 'udp' | 'tcp', what: string): void;
  truncated(): void;
}

// Query types counted by name; anything else is `other`, so a client cannot create series at will.
const TYPES = new Set(['A', 'AAAA', 'SRV', 'PTR', 'CNAME', 'MX', 'TXT', 'NS', 'SOA', 'ANY', 'HTTPS', 'SVCB']);
const RCODES = new Set(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS']);

export function dnsMetrics(registry: Registry | undefined, cacheSize: () => number): DnsMetrics {
  if (!registry) {
    const nop = () => {};
    return { query: nop, cache: nop, upstreamError: nop, rateLimited: nop, malformed: nop, truncated: nop };
  }
  const queries: Counter = registry.counter(
    'fedmesh_mesh_dns_queries_total',
    'DNS queries answered, by query type, response code and transport.',
  );
  const cache = registry.counter(
    'fedmesh_mesh_dns_cache_total',
    'Forwarded queries looked up in the cache, by result.',
  );
  const upstream = registry.counter(
    'fedmesh_mesh_dns_upstream_errors_total',
    'Failed attempts at an upstream resolver, by upstream and reason (timeout, error, servfail, refused, notimp).',
  );
  const limited = registry.counter(
    'fedmesh_mesh_dns_rate_limited_total',
    'Queries over the per-source rate limit (UDP dropped, TCP refused), by transport.',
  );
  const malformed = registry.counter(
    'fedmesh_mesh_dns_malformed_total',
    'Packets that were not a valid query (FORMERR or dropped), by transport and what was wrong.',
  );
  const truncated = registry.counter(
    'fedmesh_mesh_dns_truncated_total',
    'UDP answers sent truncated (TC) because they exceeded 512 bytes or the EDNS size.',
  );
  registry.gauge('fedmesh_mesh_dns_cache_entries', 'Forwarded answers in the cache.', cacheSize);
  return {
    query: (type, rcode, transport) =>
      queries.inc(1, {
        type: TYPES.has(type) ? type : 'other',
        rcode: RCODES.has(rcode) ? rcode : 'other',
        transport,
      }),
    cache: (result) => cache.inc(1, { result }),
    upstreamError: (u, reason) => upstream.inc(1, { upstream: u, reason }),
    rateLimited: (transport) => limited.inc(1, { transport }),
    malformed: (transport, what) => malformed.inc(1, { transport, what }),
    truncated: () => truncated.inc(1),
  };
}
