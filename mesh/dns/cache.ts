/**
 * The forwarded-answer cache: bounded (least recently used out first), TTL-respecting, positive
 * and negative (RFC 2308: NXDOMAIN and NODATA live for the SOA's minimum, capped). Served records
 * carry their remaining TTL.
 */
import type { Answer } from 'dns-packet';

export interface CachedAnswer {
  /** 0 NOERROR, 3 NXDOMAIN (other rcodes are never cached). */
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export interface DnsCacheInit {
  /** Entries kept at most. */
  size: number;
  /** Cap on positive TTLs, seconds. */
  maxTtl: number;
  /** Cap on negative TTLs, seconds. */
  maxNegativeTtl: number;
  /** Monotonic clock in ms (tests). Default performance.now. */
  now?: () => number;
}

export interface DnsCache {
  get(key: string): CachedAnswer | undefined;
  /** Stores `value` for as long as its records allow; answers with nothing to say how long are not kept. */
  put(key: string, value: CachedAnswer): void;
  readonly size: number;
  clear(): void;
}

interface Slot {
  value: CachedAnswer;
  storedAt: number;
  expiresAt: number;
}

const ttlOf = (a: Answer): number => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0);

/** How long `value` may be cached, seconds; 0 = not at all. */
export function cacheTtl(value: CachedAnswer, maxTtl: number, maxNegativeTtl: number): number {
  if (value.rcode !== 0 && value.rcode !== 3) return 0;
  const records = value.answers.filter((a) => a.type !== 'OPT');
  if (value.rcode === 0 && records.length > 0) return Math.min(maxTtl, ...records.map(ttlOf));
  // Negative: the SOA in the authority section says how long (its TTL and its minimum, the smaller).
  const soa = value.authorities.find((a) => a.type === 'SOA');
  if (soa?.type !== 'SOA') return 0;
  return Math.min(maxNegativeTtl, ttlOf(soa), soa.data.minimum ?? 0);
}

const aged = (list: Answer[], age: number): Answer[] =>
  list.map((a) => (a.type === 'OPT' ? a : { ...a, ttl: Math.max(0, ttlOf(a) - age) }) as Answer);

export function createDnsCache(init: DnsCacheInit): DnsCache {
  const now = init.now ?? (() => performance.now());
  const slots = new Map<string, Slot>();
  return {
    get(key) {
      const slot = slots.get(key);
      if (!slot) return undefined;
      const t = now();
      if (t >= slot.expiresAt) {
        slots.delete(key);
        return undefined;
      }
      // Recently used last: Map order is the LRU order.
      slots.delete(key);
      slots.set(key, slot);
      const age = Math.floor((t - slot.storedAt) / 1000);
      const v = slot.value;
      return {
        rcode: v.rcode,
        answers: aged(v.answers, age),
        authorities: aged(v.authorities, age),
        additionals: aged(v.additionals, age),
      };
    },
    put(key, value) {
      const ttl = cacheTtl(value, init.maxTtl, init.maxNegativeTtl);
      if (ttl <= 0) return;
      const t = now();
      slots.delete(key);
      slots.set(key, { value, storedAt: t, expiresAt: t + ttl * 1000 });
      while (slots.size > init.size) {
        const oldest = slots.keys().next().value;
        if (oldest === undefined) break;
        slots.delete(oldest);
      }
    },
    get size() {
      return slots.size;
    },
    clear: () => slots.clear(),
  };
}
