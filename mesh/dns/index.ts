/**
 * The node-local DNS resolver: cluster names from the service catalog, everything else forwarded
 * with a cache. See README.md.
 */

import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { type ListenerLimits, validateLimits } from '../../common/net/guard.ts';
import { createDnsCache } from './cache.ts';
import { createClusterZone, type DnsCatalog } from './cluster.ts';
import {
  DEFAULT_CACHE_SIZE,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_CLUSTER_TTL_S,
  DEFAULT_RATE_BURST,
  DEFAULT_RATE_QPS,
  DNS_TCP_LIMITS,
  FORWARD_DEADLINE_MS,
  MAX_CACHE_TTL_S,
  MAX_FORWARDS_INFLIGHT,
  MAX_NEGATIVE_TTL_S,
  RATE_MAX_SOURCES,
  UPSTREAM_TIMEOUT_MS,
} from './constants.ts';
import { createQueryHandler, type QueryHandler } from './handler.ts';
import { dnsMetrics } from './metrics.ts';
import { normalizeDomain } from './names.ts';
import { createRateLimiter } from './ratelimit.ts';
import { type Listen, startServers } from './server.ts';
import { createForwarder, resolvConfNameservers, type Upstream } from './upstream.ts';

export type { DnsCatalog } from './cluster.ts';
export { errorReply, type Transport } from './handler.ts';
export { endpointLabel, parseClusterName, parseReverse, reverseName } from './names.ts';
export type { Listen } from './server.ts';
export { parseUpstream, resolvConfNameservers, type Upstream, UpstreamError } from './upstream.ts';

export interface DnsResolverInit {
  /** UDP and TCP listen addresses (the same port for both; port 0 picks one). Default `169.254.96.16:53`. */
  listen: Listen[];
  /** The cluster domain. Default `cluster.local`. */
  clusterDomain?: string;
  /** Upstream resolvers. Default the `nameserver`s of `resolvConf`, minus our own listen addresses. */
  upstreams?: Upstream[];
  /** Where the default upstreams come from. Default `/etc/resolv.conf`. */
  resolvConf?: string;
  /** Forwarded answers cached, entries. Default 10 000; 0 turns the cache off. */
  cacheSize?: number;
  /** TTL of cluster answers, seconds. Default 5. */
  ttl?: number;
  /** Per-source limit, queries/s and burst. Default 500/s, burst 1000; `false` turns it off. */
  rateLimit?: { qps: number; burst: number } | false;
  /** One upstream attempt, ms. Default 2000. */
  upstreamTimeoutMs?: number;
  /** TCP listener limits (listener guard). Default 256 in total, 32 per source, 5 s to the first query. */
  tcpLimits?: ListenerLimits;
}

export interface DnsResolverComponents {
  /** The service catalog; absent: no cluster zone, every name is forwarded. */
  catalog?: DnsCatalog;
  log: Logger;
  registry?: Registry;
}

export interface DnsResolver {
  /** Listens until `signal` aborts; resolves once closed. Rejects if a listen address cannot be bound. */
  start(signal: AbortSignal): Promise<void>;
  /** Resolves with the bound addresses once listening. */
  readonly ready: Promise<Listen[]>;
  /** The transport-free query path (benchmarks and tests). */
  readonly handler: QueryHandler;
  /** The upstreams in use. */
  readonly upstreams: Upstream[];
}

const sameAddress = (u: Upstream, l: Listen) => u.host === l.host && u.port === l.port;

export function createDnsResolver(init: DnsResolverInit, components: DnsResolverComponents): DnsResolver {
  const log = components.log.child({ component: 'mesh.dns' });
  let domain: string;
  try {
    domain = normalizeDomain(init.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const ttl = init.ttl ?? DEFAULT_CLUSTER_TTL_S;
  if (!Number.isInteger(ttl) || ttl < 0) throw new ConfigError('dns ttl must be a non-negative integer');
  const tcpLimits = validateLimits(init.tcpLimits ?? DNS_TCP_LIMITS);
  if (!init.listen.length) throw new ConfigError('dns needs at least one listen address');
  // Our own address as an upstream would forward every query to ourselves until the deadline.
  const upstreams = (init.upstreams ?? resolvConfNameservers(init.resolvConf)).filter(
    (u) => !init.listen.some((l) => sameAddress(u, l)),
  );
  if (!upstreams.length) log.warn('no upstream resolvers: names outside the cluster domain get SERVFAIL');
  const cache = createDnsCache({
    size: init.cacheSize ?? DEFAULT_CACHE_SIZE,
    maxTtl: MAX_CACHE_TTL_S,
    maxNegativeTtl: MAX_NEGATIVE_TTL_S,
  });
  const metrics = dnsMetrics(components.registry, () => cache.size);
  const forwarder = createForwarder(
    { upstreams, timeoutMs: init.upstreamTimeoutMs ?? UPSTREAM_TIMEOUT_MS },
    (u, reason) => {
      metrics.upstreamError(u, reason);
      log.debug({ upstream: u, reason }, 'upstream attempt failed');
    },
  );
  const zone = components.catalog ? createClusterZone({ domain, ttl }, components.catalog) : undefined;
  const handler = createQueryHandler({
    zone,
    forwarder,
    cache,
    metrics,
    log,
    forwardDeadlineMs: FORWARD_DEADLINE_MS,
    maxForwards: MAX_FORWARDS_INFLIGHT,
  });
  const rl = init.rateLimit ?? { qps: DEFAULT_RATE_QPS, burst: DEFAULT_RATE_BURST };
  if (rl && (!(rl.qps > 0) || !(rl.burst >= 1))) throw new ConfigError('dns rateLimit needs qps > 0 and burst ≥ 1');
  const limiter = rl ? createRateLimiter({ ...rl, maxSources: RATE_MAX_SOURCES }) : undefined;

  let resolveReady: (l: Listen[]) => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<Listen[]>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});

  return {
    ready,
    handler,
    upstreams,
    async start(signal) {
      let servers: Awaited<ReturnType<typeof startServers>>;
      try {
        servers = await startServers(init.listen, {
          handler,
          limiter,
          metrics,
          tcpLimits,
          registry: components.registry,
          log,
        });
      } catch (err) {
        rejectReady(err);
        throw err;
      }
      log.info(
        { listen: servers.addresses, domain, upstreams: upstreams.map((u) => `${u.host}:${u.port}`) },
        'dns resolver listening',
      );
      resolveReady(servers.addresses);
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      await servers.close();
      log.info('dns resolver stopped');
    },
  };
}
