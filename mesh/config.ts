/**
 * The mesh configuration file (YAML or JSON), in the spirit of EdgeMesh's `edgeTunnel` section:
 *
 *   nodeName: edge-a1                 # usually given by --node
 *   stateDir: /var/lib/fedmesh/mesh   # identity key, known-node pins
 *   pskFile: /etc/fedmesh/psk         # PSK v1 swarm key (new key first, then old ones while rotating)
 *   pskRotationWindow: 10m            # how long a previous key stays accepted (pnet/keyring.ts)
 *   listen: 0.0.0.0:20006
 *   announce: []                      # extra addresses to announce (IP, IP:PORT or multiaddr)
 *   mdns: true
 *   dhtBootstrap: []                  # extra DHT bootstrap peers; relays always bootstrap
 *   reservations: 2                   # relay reservations held, nearest first
 *   dialPort: 20007                   # local port of every outbound dial (hole punching); 0 = off
 *   relayNodes:
 *     - nodeName: relay-1
 *       advertiseAddress: [203.0.113.7]
 *       peerId: 12D3KooW...           # optional pin
 *   tunnel:
 *     allow: [127.0.0.0/8, "[::1/128]"]
 *   advertise:                        # services this node fronts (advertise/): record + DHT
 *     - { name: fedmesh-gm, port: 9000 }   # host default 127.0.0.1
 *   serviceKeyFile: /etc/fedmesh/service-key/key   # endorses what this node advertises
 *   forward: ["127.0.0.1:19000=@fedmesh-gm"]  # as --forward (node:host:port or @service)
 *   serviceKeys: { fedmesh-gm: ["ed25519:..."] }  # only providers endorsed by these
 *   zone: lan-a                       # this node's health zone (a label value), in its record
 *   services: { kubeconfig: /etc/fedmesh/kubeconfig, clusterDomain: cluster.local }  # mesh/dns/config.ts
 *   dns: { listen: [169.254.96.16:53], upstreams: [10.0.0.2] }   # node-local DNS, mesh/dns/config.ts
 *   proxy: { steering: auto, directCidrs: [10.244.0.0/16] }   # ClusterIP proxy, mesh/proxy/config.ts
 *   nodeRecords: { kubeconfig: /etc/fedmesh/kubeconfig }  # records in Node annotations too (any stock relay)
 *   health:                           # node-health probes and views (mesh/health); absent: off
 *     period: 5s                      # the rest: mesh/health/config.ts
 *     zones: { enabled: true }
 *
 * Unknown keys are errors. `watchConfig` reloads the file on change and on SIGHUP; what can change
 * at runtime is `relayNodes` (including this node becoming or ceasing to be a relay),
 * `tunnel.allow`, `dhtBootstrap`, `advertise`, `serviceKeys`, `pskRotationWindow` (and the PSK file's
 * content, followed by command.ts) and the values inside `health` (turning health on or
 * off, and `zone`, need a restart). Other changes (`forward` among them) are reported as needing a
 * restart.
 */

import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { parseYamlOrJson } from '../common/config-text.ts';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { PUBLIC_KEY_PATTERN, parsePublicKey } from './advertise/endorse.ts';
import { AdvertisedServiceSchema, MAX_ADVERTISED, resolveAdvertised, SERVICE_NAME } from './advertise/service.ts';
import { DnsConfigSchema, ServicesConfigSchema } from './dns/config.ts';
import { parseForward } from './forward.ts';
import { HealthConfigSchema, resolveHealthConfig } from './health/config.ts';
import { ProxyConfigSchema } from './proxy/config.ts';
import { NODE_NAME, ZoneValueSchema } from './records/record.ts';

const strict = { additionalProperties: false } as const;
const HostPort = Type.String({ pattern: '^(\\[[^\\]]+\\]|[^:\\s]*):\\d{1,5}$', maxLength: 300 });
const Address = Type.String({ minLength: 1, maxLength: 300 });
const NodeName = Type.String({ minLength: 1, maxLength: 253, pattern: NODE_NAME.source });

export const RelayNodeSchema = Type.Object(
  {
    nodeName: NodeName,
    advertiseAddress: Type.Array(Address, { minItems: 1, maxItems: 16 }),
    peerId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  strict,
);

export const MeshConfigSchema = Type.Object(
  {
    nodeName: Type.Optional(NodeName),
    stateDir: Type.Optional(Type.String({ minLength: 1 })),
    pskFile: Type.Optional(Type.String({ minLength: 1 })),
    /** How long keys after the first in the PSK file stay accepted (a duration, e.g. `10m`). */
    pskRotationWindow: Type.Optional(Type.String({ pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$', maxLength: 32 })),
    listen: Type.Optional(HostPort),
    announce: Type.Optional(Type.Array(Address, { maxItems: 16 })),
    mdns: Type.Optional(Type.Boolean()),
    dhtBootstrap: Type.Optional(Type.Array(Address, { maxItems: 64 })),
    reservations: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    dialPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    relayNodes: Type.Optional(Type.Array(RelayNodeSchema, { maxItems: 256 })),
    tunnel: Type.Optional(Type.Object({ allow: Type.Optional(Type.Array(Address, { maxItems: 256 })) }, strict)),
    /** Services this node fronts, announced in its record and the DHT (advertise/service.ts). */
    advertise: Type.Optional(Type.Array(AdvertisedServiceSchema, { maxItems: MAX_ADVERTISED })),
    /** Ed25519 key (PKCS#8 PEM) endorsing every service this node advertises (advertise/endorse.ts). */
    serviceKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Per service name, the public keys (`ed25519:...`) its providers must be endorsed by. */
    serviceKeys: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1, maxLength: 63 }),
        Type.Array(Type.String({ pattern: PUBLIC_KEY_PATTERN }), { minItems: 1, maxItems: 8 }),
      ),
    ),
    /** Local forwards, the `--forward` syntax: `[HOST:]PORT=node:host:port` or `[HOST:]PORT=@service`. */
    forward: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 600 }), { maxItems: 64 })),
    zone: Type.Optional(ZoneValueSchema),
    health: Type.Optional(HealthConfigSchema),
    /** Service discovery (mesh/services) for DNS and the proxy; a restart applies changes. */
    services: Type.Optional(ServicesConfigSchema),
    /**
     * Node records also published in and looked up from the Kubernetes API (a Node annotation;
     * records/kube-store.ts): names resolve through any stock relay. A restart applies changes.
     */
    nodeRecords: Type.Optional(
      Type.Object({ kubeconfig: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) }, strict),
    ),
    /** The node-local DNS resolver (mesh/dns); a restart applies changes. */
    dns: Type.Optional(DnsConfigSchema),
    /** The node-local service proxy (mesh/proxy); needs `services`; a restart applies changes. */
    proxy: Type.Optional(ProxyConfigSchema),
  },
  strict,
);
export type MeshConfig = Static<typeof MeshConfigSchema>;

const check = Compile(MeshConfigSchema);

/** Parses YAML or JSON text and validates it. Throws ConfigError naming the first problem. */
export async function parseConfig(text: string, source = 'config'): Promise<MeshConfig> {
  if (text.trim() === '') return {};
  let value = await parseYamlOrJson(text, source);
  value ??= {};
  if (!check.Check(value)) {
    const first = [...check.Errors(value)][0] as { instancePath?: string; message?: string } | undefined;
    throw new ConfigError(`${source}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const names = new Set<string>();
  for (const r of value.relayNodes ?? []) {
    if (names.has(r.nodeName)) throw new ConfigError(`${source}: relay ${r.nodeName} is listed twice`);
    names.add(r.nodeName);
  }
  if (value.advertise) resolveAdvertised(value.advertise, `${source}: advertise`);
  for (const [service, keys] of Object.entries(value.serviceKeys ?? {})) {
    if (!SERVICE_NAME.test(service))
      throw new ConfigError(`${source}: serviceKeys: "${service}" is not a service name`);
    for (const k of keys) parsePublicKey(k);
  }
  for (const f of value.forward ?? []) {
    try {
      parseForward(f);
    } catch (err) {
      throw new ConfigError(`${source}: forward: ${(err as Error).message}`, { cause: err });
    }
  }
  // Cross-field checks (timeout < period, window ≥ 2 periods) at load, not at first use.
  if (value.health) resolveHealthConfig(value.health, `${source}: health`);
  return value;
}

export async function loadConfig(path: string): Promise<MeshConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(text, path);
}

/** Keys a running node applies without restarting. */
const LIVE_KEYS = [
  'relayNodes',
  'tunnel',
  'dhtBootstrap',
  'health',
  'advertise',
  'serviceKeys',
  'pskRotationWindow',
] as const;

/**
 * Watches `path` (its directory, so editors that replace the file are seen) and SIGHUP. Calls
 * `onChange` with each new valid configuration; an invalid one is logged and ignored, keeping the
 * running configuration. Resolves when `signal` aborts.
 */
export async function watchConfig(
  path: string,
  initial: MeshConfig,
  onChange: (cfg: MeshConfig) => void,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const full = resolve(path);
  let current = JSON.stringify(initial);
  let timer: NodeJS.Timeout | undefined;
  const reload = async (why: string) => {
    let cfg: MeshConfig;
    try {
      cfg = await loadConfig(full);
    } catch (err) {
      log.error(
        { err: (err as Error).message, code: 'ERR_CONFIG', why },
        'configuration not reloaded: invalid; keeping the running one',
      );
      return;
    }
    const text = JSON.stringify(cfg);
    if (text === current) return;
    const before = JSON.parse(current) as MeshConfig;
    current = text;
    const restart = (Object.keys({ ...before, ...cfg }) as Array<keyof MeshConfig>).filter(
      (k) => !(LIVE_KEYS as readonly string[]).includes(k) && JSON.stringify(before[k]) !== JSON.stringify(cfg[k]),
    );
    if (restart.length) log.warn({ keys: restart }, 'configuration keys changed that take effect only after a restart');
    log.info({ why }, 'configuration reloaded');
    onChange(cfg);
  };
  const schedule = (why: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(why), 100);
  };
  const watcher = watch(dirname(full), (_event, file) => {
    if (file === null || file === basename(full)) schedule('file changed');
  });
  const onHup = () => schedule('SIGHUP');
  process.on('SIGHUP', onHup);
  try {
    await new Promise((r) => {
      if (signal.aborted) r(undefined);
      signal.addEventListener('abort', r, { once: true });
    });
  } finally {
    clearTimeout(timer);
    watcher.close();
    process.off('SIGHUP', onHup);
  }
}
