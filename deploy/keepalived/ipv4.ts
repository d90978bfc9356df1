/** Strict dotted-quad IPv4 parsing: keepalived rejects leading zeros, so we do too. */

/** An IPv4 address in canonical dotted-quad form, with the prefix length if one was given. */
export interface Ipv4 {
  address: string;
  prefix?: number;
}

const OCTET = '(?:0|[1-9][0-9]{0,2})';
const IPV4_RE = new RegExp(`^(${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET})(?:/(0|[1-9][0-9]?))?$`);

/** Parses `a.b.c.d` or `a.b.c.d/n`; undefined when malformed (octet > 255, prefix > 32, spaces...). */
export function parseIpv4(text: string): Ipv4 | undefined {
  const m = IPV4_RE.exec(text);
  if (m === null) return undefined;
  const address = m[1] as string;
  if (address.split('.').some((o) => Number(o) > 255)) return undefined;
  if (m[2] === undefined) return { address };
  const prefix = Number(m[2]);
  return prefix <= 32 ? { address, prefix } : undefined;
}

/**
 * True for addresses a host may own: not 0.0.0.0/8 (this network), 127.0.0.0/8 (loopback), or
 * 224.0.0.0 and above (multicast, reserved, broadcast).
 */
export function isHostAddress(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return first !== 0 && first !== 127 && first < 224;
}
