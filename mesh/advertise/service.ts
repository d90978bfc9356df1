/**
 * Services advertised on the mesh: a node says "I front service NAME at host:port" (e.g. a GM
 * replica's mesh agent fronting the hub). The advertisement travels in the node's signed record
 * (records/record.ts `services`), so peers that exchange records learn it at once, and as a
 * provider record in the private DHT under a key derived from the name, so nodes in other LANs
 * find every provider. A forward to `@NAME` tunnels to one of them (client.ts).
 */
import { isIP } from 'node:net';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { type Static, Type } from 'typebox';
import { ConfigError } from '../../common/errors.ts';
import { SERVICE_DISCOVERY_NAMESPACE } from '../constants.ts';

/** A service name: a DNS-1123 label (as a Kubernetes Service name), e.g. `fedmesh-gm`. */
export const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const ServiceNameSchema = Type.String({ minLength: 1, maxLength: 63, pattern: SERVICE_NAME.source });

/** Where this node serves an advertised service (config `advertise`, record `services`). */
export const AdvertisedServiceSchema = Type.Object(
  {
    name: ServiceNameSchema,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** A literal IP on the advertising node; default 127.0.0.1 (a sidecar beside its server). */
    host: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
  },
  { additionalProperties: false },
);
export type AdvertisedServiceConfig = Static<typeof AdvertisedServiceSchema>;

/** An advertisement with its host resolved. */
export interface AdvertisedService {
  name: string;
  host: string;
  port: number;
}

/** Advertisements a node may carry (bounds its record: each costs ~50 bytes of an 8 KiB record). */
export const MAX_ADVERTISED = 16;
export const DEFAULT_SERVICE_HOST = '127.0.0.1';

/**
 * Checks what the schema cannot (literal IP host, one entry per name) and fills in the host.
 * Throws ConfigError naming the entry.
 */
export function resolveAdvertised(list: readonly AdvertisedServiceConfig[], source = 'advertise'): AdvertisedService[] {
  if (list.length > MAX_ADVERTISED) throw new ConfigError(`${source}: at most ${MAX_ADVERTISED} services`);
  const seen = new Set<string>();
  return list.map((s) => {
    if (!SERVICE_NAME.test(s.name)) throw new ConfigError(`${source}: "${s.name}" is not a service name`);
    if (seen.has(s.name)) throw new ConfigError(`${source}: service ${s.name} is listed twice`);
    seen.add(s.name);
    const host = s.host ?? DEFAULT_SERVICE_HOST;
    // Tunnels dial literal IPs only (tunnel/targets.ts): a name would be resolved by whoever dials.
    if (isIP(host) === 0) throw new ConfigError(`${source}: service ${s.name}: host "${host}" is not an IP address`);
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
      throw new ConfigError(`${source}: service ${s.name}: bad port ${s.port}`);
    }
    return { name: s.name, host, port: s.port };
  });
}

/** `NAME=[HOST:]PORT` (the `--advertise` flag) → an advertisement. */
export function parseAdvertise(text: string): AdvertisedServiceConfig {
  const m = /^([^=]+)=(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text);
  if (!m) throw new ConfigError(`expected NAME=[HOST:]PORT, got "${text}"`);
  const cfg: AdvertisedServiceConfig = { name: m[1] as string, port: Number(m[3]) };
  if (m[2] !== undefined) cfg.host = m[2].replace(/^\[|\]$/g, '');
  resolveAdvertised([cfg], `--advertise ${text}`);
  return cfg;
}

/** Tunnel allow-list rules admitting exactly the advertised targets (host/32 or /128, one port). */
export function advertisedRules(list: readonly AdvertisedService[]): string[] {
  return list.map((s) => (isIP(s.host) === 6 ? `[${s.host}/128]:${s.port}` : `${s.host}/32:${s.port}`));
}

/** The DHT key providers of `name` announce: raw CIDv1 of SHA-256(namespace + "/" + name). */
export async function serviceKey(name: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`${SERVICE_DISCOVERY_NAMESPACE}/${name}`)));
}
