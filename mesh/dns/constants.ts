/** Values of the node-local DNS resolver, each with its reason. */

/** EdgeMesh's link-local listen address, so nodes moving from EdgeMesh keep their kubelet `clusterDNS`. */
export const DEFAULT_DNS_LISTEN = '169.254.96.16:53';

/** Kubernetes' default; configurable (EdgeMesh hard-codes it). */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** TTL of cluster answers, seconds: CoreDNS's kubernetes plugin default, so endpoint changes show within 5 s. */
export const DEFAULT_CLUSTER_TTL_S = 5;

/** Forwarded answers kept, entries (a node's pods ask for a few hundred names; 10 000 bounds memory at a few MB). */
export const DEFAULT_CACHE_SIZE = 10_000;

/** Cap on any cached TTL, seconds: an upstream that says a day is not trusted for more than an hour. */
export const MAX_CACHE_TTL_S = 3600;

/** Cap on negative caching (RFC 2308 SOA minimum), seconds, so a name that appears is found within 5 min. */
export const MAX_NEGATIVE_TTL_S = 300;

/** Per-source queries per second and burst: far above what a pod's resolver sends, well below a flood. */
export const DEFAULT_RATE_QPS = 500;
export const DEFAULT_RATE_BURST = 1000;

/** Sources tracked by the rate limiter; beyond, the oldest bucket is dropped (spoofed floods cannot grow memory). */
export const RATE_MAX_SOURCES = 65_536;

/** One upstream attempt, ms (glibc's resolver waits 5 s per try; failing over sooner keeps pods below that). */
export const UPSTREAM_TIMEOUT_MS = 2000;

/** The whole forward (every upstream, UDP then TCP), ms: below glibc's 5 s so the client gets SERVFAIL, not silence. */
export const FORWARD_DEADLINE_MS = 4500;

/** EDNS payload size we advertise and accept upstream: the DNS flag day 2020 value that avoids IP fragmentation. */
export const EDNS_UDP_SIZE = 1232;

/** Largest UDP answer we send whatever the client's EDNS says (its buffer size is capped here). */
export const MAX_UDP_ANSWER = 4096;

/** Plain DNS over UDP without EDNS (RFC 1035). */
export const CLASSIC_UDP_SIZE = 512;

/** Largest query accepted over TCP, bytes: a query is one question and an OPT record; longer is hostile. */
export const MAX_TCP_QUERY = 4096;

/** TCP connection limits (listener guard): pods use TCP only after truncation, so few are needed. */
export const DNS_TCP_LIMITS = { maxConnections: 256, maxConnectionsPerSource: 32, handshakeTimeoutMs: 5000 };

/** An idle TCP connection is closed after this, ms (RFC 7766 suggests seconds, not minutes). */
export const TCP_IDLE_MS = 10_000;

/** Queries in flight on one TCP connection; reading pauses beyond it (pipelining without unbounded memory). */
export const TCP_MAX_INFLIGHT = 32;

/** Forwards in flight in total; more are answered SERVFAIL at once rather than queued without bound. */
export const MAX_FORWARDS_INFLIGHT = 1024;

/**
 * UDP receive buffer asked for, bytes: a burst of queries waits in the kernel instead of being
 * dropped there before the rate limit sees it (the kernel caps it at net.core.rmem_max).
 */
export const UDP_RECV_BUFFER = 1 << 20;

/** Encoded cluster answers kept by query bytes (the packet cache), entries; cleared when full. */
export const PACKET_CACHE_SIZE = 4096;

/** Longest query kept in the packet cache, bytes: a plain query with EDNS is well under 512. */
export const PACKET_CACHE_MAX_QUERY = 512;
