/**
 * resourceVersion order for the store's version rules. Kubernetes calls resourceVersions opaque,
 * but every object the LC holds comes from one cluster's storage (through a GM or through an edge
 * API endpoint caching the same objects), where they are etcd revisions: decimal integers that
 * only grow. Those are compared as integers; anything else is only ever equal or not.
 */

/** The object's `metadata.resourceVersion`, or undefined. */
export function versionOf(object: Record<string, unknown> | undefined): string | undefined {
  const meta = object?.metadata;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const rv = (meta as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

const DECIMAL = /^[0-9]{1,40}$/;

/**
 * True when a store holding version `held` must skip `incoming`: the same version again, or an
 * older one (both decimal). Without a version on either side, nothing is skipped.
 */
export function isStale(incoming: string | undefined, held: string | undefined): boolean {
  if (incoming === undefined || held === undefined) return false;
  if (incoming === held) return true;
  if (DECIMAL.test(incoming) && DECIMAL.test(held)) return BigInt(incoming) < BigInt(held);
  return false;
}

/** True when `held` is strictly newer than `other` (both decimal). */
export function isNewer(held: string | undefined, other: string): boolean {
  if (held === undefined || !DECIMAL.test(held) || !DECIMAL.test(other)) return false;
  return BigInt(held) > BigInt(other);
}

/**
 * Deleted objects whose version the store remembers, most recent last: an upsert older than the
 * version an object was deleted at is skipped (a lagging source cannot bring it back). Bounded:
 * the oldest are forgotten; a source that lags by more than this many deletes is not expected.
 */
export const MAX_TOMBSTONES = 10_000;

/** The later of two versions (decimal), or whichever is defined. */
export function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return isNewer(b, a) ? b : a;
}
