/**
 * Which host:port a tunnel responder may dial. Without a policy a tunnel is an open proxy into the
 * responder's network, so the default admits loopback only; operators widen it per node
 * (`tunnel.allow` in the config), e.g. to the pod CIDR for the service proxy.
 *
 * Rules: `CIDR` (any port) or `CIDR:PORT` / `CIDR:LOW-HIGH`; IPv6 in brackets: `[::1/128]:80`.
 * Only literal IP targets are dialled: a name would be resolved by the responder's DNS and could
 * point anywhere.
 */
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../../common/errors.ts';

export const DEFAULT_ALLOW = ['127.0.0.0/8', '[::1/128]'];

interface Rule {
  list: BlockList;
  low: number;
  high: number;
}

export interface TargetPolicy {
  /** True when `host:port` may be dialled. */
  allows(host: string, port: number): boolean;
  readonly rules: readonly string[];
}

function parseRule(text: string): Rule {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5})(?:-(\d{1,5}))?)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`tunnel allow rule "${text}": expected CIDR[:PORT[-PORT]]`);
  const cidr = (m[1] ?? m[2]) as string;
  const [addr, bits] = cidr.split('/');
  const family = isIP(addr ?? '');
  if (family === 0) throw new ConfigError(`tunnel allow rule "${text}": ${addr} is not an IP address`);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new ConfigError(`tunnel allow rule "${text}": bad prefix length`);
  }
  const low = m[3] === undefined ? 1 : Number(m[3]);
  const high = m[4] === undefined ? (m[3] === undefined ? 65535 : low) : Number(m[4]);
  if (low < 1 || high > 65535 || low > high) throw new ConfigError(`tunnel allow rule "${text}": bad port range`);
  const list = new BlockList();
  list.addSubnet(addr as string, prefix, family === 4 ? 'ipv4' : 'ipv6');
  return { list, low, high };
}

export function createTargetPolicy(rules: readonly string[] = DEFAULT_ALLOW): TargetPolicy {
  const parsed = rules.map(parseRule);
  return {
    rules,
    allows(host, port) {
      const family = isIP(host);
      if (family === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return false;
      const type = family === 4 ? 'ipv4' : 'ipv6';
      return parsed.some((r) => port >= r.low && port <= r.high && r.list.check(host, type));
    },
  };
}
