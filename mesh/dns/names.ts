/**
 * Pure name handling: which cluster name a query asks for (`<svc>.<ns>.svc.<domain>` and the forms
 * around it), reverse names (`in-addr.arpa`, `ip6.arpa`) to IPs and back, endpoint labels.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Protocol } from '../services/index.ts';
import { canonicalIP } from '../services/model.ts';

export type ClusterName =
  /** `<domain>` or `svc.<domain>`: the zone exists, no records of its own. */
  | { kind: 'apex' }
  | { kind: 'namespace'; namespace: string }
  | { kind: 'service'; namespace: string; service: string }
  /** `_<port>._<proto>.<svc>.<ns>.svc.<domain>`. */
  | { kind: 'srv'; namespace: string; service: string; port: string; protocol: Protocol }
  /** `<hostname or dashed IP>.<svc>.<ns>.svc.<domain>`: one endpoint of a headless Service. */
  | { kind: 'endpoint'; namespace: string; service: string; endpoint: string }
  /** In the cluster domain but no form we serve (pod records, wrong depth): NXDOMAIN. */
  | { kind: 'none' };

const PROTOCOLS: Record<string, Protocol> = { _tcp: 'TCP', _udp: 'UDP', _sctp: 'SCTP' };

/**
 * True when `name` (as decoded) encodes back to the same wire name: no empty label, labels of at
 * most 63 bytes, 253 in all. A decoded label holding a dot or bytes that are not UTF-8 would not,
 * and the answer would carry a different or broken name.
 */
export function encodable(name: string): boolean {
  if (name === '.' || name === '') return true;
  const end = name.endsWith('.') ? name.length - 1 : name.length;
  // Byte lengths equal char lengths for ASCII; anything else is measured exactly.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/^[\x00-\x7f]*$/.test(name)) return encodableSlow(name.slice(0, end));
  if (end > 253) return false;
  let label = 0;
  for (let i = 0; i < end; i++) {
    if (name.charCodeAt(i) === 46) {
      if (label === 0) return false;
      label = 0;
    } else if (++label > 63) return false;
  }
  return label > 0;
}

function encodableSlow(n: string): boolean {
  if (Buffer.byteLength(n) > 253 || n.includes('\uFFFD')) return false;
  for (const label of n.split('.')) if (label === '' || Buffer.byteLength(label) > 63) return false;
  return true;
}

/** Lower case, no trailing dot. */
export function normalizeName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** Lower case, no leading or trailing dot; throws on an empty or malformed domain. */
export function normalizeDomain(domain: string): string {
  const d = domain.replace(/^\.|\.$/g, '').toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(d) || d.length > 253) {
    throw new Error(`invalid cluster domain "${domain}"`);
  }
  return d;
}

/** The cluster name `name` asks for, or undefined when it is outside `domain` (normalized). */
export function parseClusterName(name: string, domain: string): ClusterName | undefined {
  const n = normalizeName(name);
  if (n !== domain && !n.endsWith(`.${domain}`)) return undefined;
  const rest = n === domain ? [] : n.slice(0, -domain.length - 1).split('.');
  if (rest.length === 0) return { kind: 'apex' };
  if (rest[rest.length - 1] !== 'svc') return { kind: 'none' };
  const r = rest.slice(0, -1);
  if (r.some((l) => l === '')) return { kind: 'none' };
  switch (r.length) {
    case 0:
      return { kind: 'apex' };
    case 1:
      return { kind: 'namespace', namespace: r[0] as string };
    case 2:
      return { kind: 'service', service: r[0] as string, namespace: r[1] as string };
    case 3:
      if ((r[0] as string).startsWith('_')) return { kind: 'none' };
      return { kind: 'endpoint', endpoint: r[0] as string, service: r[1] as string, namespace: r[2] as string };
    case 4: {
      const [port = '', proto = '', service = '', namespace = ''] = r;
      const protocol = PROTOCOLS[proto];
      if (!port.startsWith('_') || port.length < 2 || !protocol) return { kind: 'none' };
      return { kind: 'srv', port: port.slice(1), protocol, service, namespace };
    }
    default:
      return { kind: 'none' };
  }
}

/** `<svc>.<ns>.svc.<domain>`. */
export function serviceFqdn(namespace: string, service: string, domain: string): string {
  return `${service}.${namespace}.svc.${domain}`;
}

/** An endpoint's DNS label (as CoreDNS): its hostname, else its address with `.`/`:` as `-`. */
export function endpointLabel(address: string, hostname?: string): string {
  return hostname ? hostname.toLowerCase() : canonicalIP(address).replace(/[.:]/g, '-');
}

/** The IP a reverse name stands for, or undefined when `name` is not a complete reverse name. */
export function parseReverse(name: string): string | undefined {
  const n = normalizeName(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256)) return undefined;
    const ip = parts.reverse().join('.');
    return isIPv4(ip) ? ip : undefined;
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    const ip = hex.match(/.{4}/g)?.join(':') ?? '';
    return isIPv6(ip) ? canonicalIP(ip) : undefined;
  }
  return undefined;
}

/** The reverse name of an IPv4 or IPv6 address. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const halves = canonicalIP(ip).split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const full =
    halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  const hex = full.map((g) => g.padStart(4, '0')).join('');
  return `${[...hex].reverse().join('.')}.ip6.arpa`;
}
