/**
 * Addresses as the mesh meets them: config text (`relayNodes`, `announce`, `dhtBootstrap`) turned
 * into multiaddrs, the IP of a multiaddr, and whether a connection runs through a relay.
 */
import type { Connection } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';

/** `IP`, `IP:PORT`, `[IPv6]:PORT`, a DNS name or a multiaddr → multiaddr; no port means `defaultPort`. */
export function toMultiaddr(text: string, defaultPort: number): Multiaddr {
  if (text.startsWith('/')) return multiaddr(text);
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`bad relay address ${text}`);
  const host = (m[1] ?? m[2]) as string;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  const proto = host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : 'dns';
  return multiaddr(`/${proto}/${host}/tcp/${port}`);
}

/** The IP of an `/ip4|ip6/…` multiaddr, if it has one. */
export function hostOf(ma: Multiaddr): string | undefined {
  return ma.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value;
}

/** True for a connection through a relay (a circuit), false for a direct one. */
export const isCircuit = (c: Connection): boolean => c.remoteAddr.toString().includes('/p2p-circuit');
