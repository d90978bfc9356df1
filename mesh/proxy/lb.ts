/**
 * Load balancing for one Service port: which endpoint a new connection (or UDP flow) goes to.
 * Pure apart from its own state (round-robin position, active counts, ClientIP affinity); time and
 * randomness are injected, so every policy is unit-tested exactly.
 *
 * Order of decisions for one connection:
 *   1. Kubernetes `sessionAffinity: ClientIP`: a client seen within the timeout keeps its endpoint
 *      while that endpoint is still a candidate (the timeout restarts with each connection, as
 *      kube-proxy's `recent` match does).
 *   2. Locality: endpoints not penalized by a recent failure; of those the same-LAN ones (on this
 *      node, or on a node we hold a direct connection to); with none, the remote ones whose node
 *      is nearest by measured RTT (within a band, see constants.ts).
 *   3. The policy over that pool: ROUND_ROBIN (default), RANDOM, LEAST_REQUEST (power of two
 *      choices, Envoy's algorithm) or a consistent hash (rendezvous hashing: when an endpoint
 *      leaves, only its own clients move) of the source IP — the IP only, never the port — or of
 *      an HTTP header or cookie (http.ts; our own cookie names its endpoint directly).
 * The rest of the candidates follow in locality order as fallbacks when the choice cannot be reached.
 */
import { AFFINITY_MAX_CLIENTS, RTT_BAND_FACTOR, RTT_BAND_SLACK_MS } from './constants.ts';
import { hash32 } from './hash.ts';
import { cookieOf, cookieToken } from './http.ts';

export type SimplePolicy = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST';
export const SIMPLE_POLICIES: readonly SimplePolicy[] = ['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST'];

/** The balancing rule of a Service port (from a DestinationRule, or the default). */
export type LbPolicy =
  | { simple: SimplePolicy }
  | { consistentHash: { useSourceIp: true } }
  /** HTTP/1.x only (http.ts): the first request's header or cookie; absent, round robin. */
  | { consistentHash: { httpHeaderName: string } | { httpCookie: HttpCookie } };

/** The cookie of `consistentHash.httpCookie`; issued when a request comes without it. */
export interface HttpCookie {
  name: string;
  path?: string;
  /** Max-Age in seconds; absent: a session cookie. */
  ttlS?: number;
}

export const DEFAULT_POLICY: LbPolicy = { simple: 'ROUND_ROBIN' };

/** Where an endpoint is, seen from this node. */
export type Locality = 'local' | 'lan' | 'remote';

export interface Candidate {
  /** Stable identity of the endpoint: `address:port`. */
  id: string;
  locality: Locality;
  /** Smoothed RTT to the endpoint's node, ms (remote endpoints; unknown: undefined). */
  rttMs?: number;
  /** True while a recent attempt to it failed. */
  penalized?: boolean;
}

export interface BalancerInit {
  policy?: LbPolicy;
  /** `sessionAffinity: ClientIP` timeout in seconds; undefined: no affinity. */
  affinityTimeoutS?: number;
}

export interface BalancerComponents {
  /** [0, 1). Default Math.random. */
  random?: () => number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
}

export interface Balancer {
  /**
   * Candidates in the order to try them for a connection from `sourceIp`; the first is the choice.
   * `headers`: the first HTTP request's (lower-case names), for the header and cookie hashes.
   */
  pick(candidates: readonly Candidate[], sourceIp: string, headers?: Map<string, string>): Candidate[];
  /** The connection from `sourceIp` went to `id` (records ClientIP affinity). */
  used(sourceIp: string, id: string): void;
  /** A connection to `id` opened / closed (LEAST_REQUEST's active counts). */
  opened(id: string): void;
  closed(id: string): void;
  /** Changes the policy or affinity; keeps counts, drops affinity when it is turned off. */
  update(init: BalancerInit): void;
  readonly policy: LbPolicy;
}

const LOCALITY_ORDER: Record<Locality, number> = { local: 0, lan: 0, remote: 1 };

/** Candidates in locality order: healthy first, same LAN first, then by RTT (unknown last), then id. */
export function localityOrder(candidates: readonly Candidate[]): Candidate[] {
  const rtt = (c: Candidate) => c.rttMs ?? Number.POSITIVE_INFINITY;
  return [...candidates].sort(
    (a, b) =>
      Number(!!a.penalized) - Number(!!b.penalized) ||
      LOCALITY_ORDER[a.locality] - LOCALITY_ORDER[b.locality] ||
      (rtt(a) === rtt(b) ? 0 : rtt(a) < rtt(b) ? -1 : 1) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The pool the policy chooses from: see the file comment, step 2. Sorted by id. */
export function preferredPool(candidates: readonly Candidate[]): Candidate[] {
  const healthy = candidates.filter((c) => !c.penalized);
  const base = healthy.length ? healthy : [...candidates];
  const near = base.filter((c) => c.locality !== 'remote');
  let pool = near;
  if (!near.length) {
    const known = base.filter((c) => c.rttMs !== undefined).map((c) => c.rttMs as number);
    const limit = known.length ? Math.min(...known) * RTT_BAND_FACTOR + RTT_BAND_SLACK_MS : Number.POSITIVE_INFINITY;
    // Unknown RTT counts as within the band only when nothing is measured yet.
    pool = base.filter((c) => (c.rttMs === undefined ? !known.length : c.rttMs <= limit));
  }
  return pool.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Rendezvous (highest random weight) choice of `key` among `pool`. */
export function rendezvous(pool: readonly Candidate[], key: string): Candidate | undefined {
  let best: Candidate | undefined;
  let bestScore = -1;
  for (const c of pool) {
    const score = hash32(`${key}|${c.id}`);
    if (score > bestScore || (score === bestScore && best && c.id < best.id)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

export function createBalancer(init: BalancerInit, components: BalancerComponents = {}): Balancer {
  const random = components.random ?? Math.random;
  const now = components.now ?? (() => performance.now());
  let policy = init.policy ?? DEFAULT_POLICY;
  let affinityMs = init.affinityTimeoutS === undefined ? undefined : init.affinityTimeoutS * 1000;
  let next = 0;
  const active = new Map<string, number>();
  /** source IP → endpoint and when it was last used; Map order is the eviction order. */
  const affinity = new Map<string, { id: string; at: number }>();
  const index = (n: number) => Math.min(n - 1, Math.floor(random() * n));

  const choose = (pool: Candidate[], sourceIp: string, headers?: Map<string, string>): Candidate | undefined => {
    if (!pool.length) return undefined;
    if ('consistentHash' in policy) {
      const ch = policy.consistentHash;
      if ('useSourceIp' in ch) return rendezvous(pool, sourceIp);
      if ('httpHeaderName' in ch) {
        const key = headers?.get(ch.httpHeaderName.toLowerCase());
        if (key !== undefined) return rendezvous(pool, key);
      } else if (headers) {
        const value = cookieOf(headers, ch.httpCookie.name);
        // The cookie we issued names its endpoint; a foreign or stale value is hashed.
        if (value !== undefined) return pool.find((c) => cookieToken(c.id) === value) ?? rendezvous(pool, value);
      }
    }
    const simple = 'simple' in policy ? policy.simple : 'ROUND_ROBIN';
    if (simple === 'RANDOM') return pool[index(pool.length)];
    if (simple === 'LEAST_REQUEST') {
      if (pool.length === 1) return pool[0];
      const i = index(pool.length);
      let j = index(pool.length - 1);
      if (j >= i) j++;
      const a = pool[i] as Candidate;
      const b = pool[j] as Candidate;
      const na = active.get(a.id) ?? 0;
      const nb = active.get(b.id) ?? 0;
      return na <= nb ? a : b;
    }
    const c = pool[next % pool.length];
    next = (next + 1) % Number.MAX_SAFE_INTEGER;
    return c;
  };

  return {
    get policy() {
      return policy;
    },
    pick(candidates, sourceIp, headers) {
      const ordered = localityOrder(candidates);
      let first: Candidate | undefined;
      if (affinityMs !== undefined) {
        const held = affinity.get(sourceIp);
        if (held && now() - held.at < affinityMs) {
          first = ordered.find((c) => c.id === held.id && !c.penalized);
        }
      }
      first ??= choose(preferredPool(candidates), sourceIp, headers);
      if (!first) return [];
      return [first, ...ordered.filter((c) => c !== first)];
    },
    used(sourceIp, id) {
      if (affinityMs === undefined) return;
      affinity.delete(sourceIp);
      affinity.set(sourceIp, { id, at: now() });
      if (affinity.size > AFFINITY_MAX_CLIENTS) {
        const oldest = affinity.keys().next().value as string;
        affinity.delete(oldest);
      }
    },
    opened(id) {
      active.set(id, (active.get(id) ?? 0) + 1);
    },
    closed(id) {
      const n = (active.get(id) ?? 0) - 1;
      if (n > 0) active.set(id, n);
      else active.delete(id);
    },
    update(change) {
      policy = change.policy ?? DEFAULT_POLICY;
      affinityMs = change.affinityTimeoutS === undefined ? undefined : change.affinityTimeoutS * 1000;
      if (affinityMs === undefined) affinity.clear();
    },
  };
}
