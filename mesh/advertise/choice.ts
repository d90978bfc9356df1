/**
 * Which provider of a service a new connection tries first. Pure, so the order is unit-tested:
 *   1. providers that have not failed in the last SERVICE_FAILURE_PENALTY_MS before those that have
 *      (a provider that just refused or timed out is the last resort, not the first try);
 *   2. providers we hold no connection to and that the last DHT answer did not list go after the
 *      rest (a GM pod deleted for good keeps its record here; its provider record ages out);
 *   3. the path we already hold: an open direct connection, then a hole-punched one, then a relayed
 *      one, then none (a dial is needed first);
 *   4. the measured round trip (ping, or the last tunnel open), unknown last;
 *   5. the node name, so equal providers are tried in a stable order.
 */

/** The path to a provider now: what the cheapest next tunnel would run on. */
export type PathClass = 'direct' | 'punched' | 'relayed' | 'none';
export const PATH_ORDER: readonly PathClass[] = ['direct', 'punched', 'relayed', 'none'];

export interface ProviderCandidate {
  /** The provider's node name (from its signed record). */
  node: string;
  peerId: string;
  /** Target on the provider, from its record. */
  host: string;
  port: number;
  path: PathClass;
  /** Smoothed round trip in ms, when measured. */
  rttMs?: number;
  /** `performance.now()` of its last failed attempt, if any. */
  failedAt?: number;
  /** False when the last DHT lookup that found providers did not list this one. Default: listed. */
  listed?: boolean;
}

export function isPenalized(c: ProviderCandidate, now: number, penaltyMs: number): boolean {
  return c.failedAt !== undefined && now - c.failedAt < penaltyMs;
}

/** The candidates in the order they are tried (a new array). */
export function rankProviders(
  candidates: readonly ProviderCandidate[],
  now: number,
  penaltyMs: number,
): ProviderCandidate[] {
  const key = (c: ProviderCandidate) => [
    isPenalized(c, now, penaltyMs) ? 1 : 0,
    c.path === 'none' && c.listed === false ? 1 : 0,
    PATH_ORDER.indexOf(c.path),
    c.rttMs ?? Number.POSITIVE_INFINITY,
  ];
  return [...candidates].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      const d = (ka[i] as number) - (kb[i] as number);
      if (d !== 0 && !Number.isNaN(d)) return d;
    }
    return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
  });
}
