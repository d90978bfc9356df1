/**
 * The `proxy` section of the mesh config file (mesh/config.ts embeds it); it needs the
 * `services` section (the catalog it proxies) and a restart to change:
 *
 *   proxy:
 *     steering: auto                 # nft, iptables, or auto (nft when it runs, else iptables)
 *     directCidrs: [10.244.0.0/16]   # endpoint addresses routable on the LAN: dialled directly
 *     udpIdleSeconds: 60             # a UDP flow idle this long is closed
 *     destinationRules: true         # watch networking.istio.io DestinationRules (load balancer)
 */
import { type Static, Type } from 'typebox';
import { ConfigError } from '../../common/errors.ts';
import { loadClusterAccess } from '../../common/kube/access.ts';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { ServiceCatalog } from '../services/index.ts';
import { createDestinationRules } from './destination-rules.ts';
import { createServiceProxy, type ServiceProxy } from './proxy.ts';
import { createCidrList, type ProxyMesh } from './route.ts';
import { createSteering } from './rules.ts';

const Cidr = Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' });

export const ProxyConfigSchema = Type.Object(
  {
    steering: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('nft'), Type.Literal('iptables')])),
    directCidrs: Type.Optional(Type.Array(Cidr, { maxItems: 64 })),
    udpIdleSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    destinationRules: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProxyConfig = Static<typeof ProxyConfigSchema>;

export interface ProxyAgentComponents {
  /** The catalog of the `services` section (started by its owner). */
  catalog: ServiceCatalog;
  mesh: ProxyMesh;
  /** The `services` section's kubeconfig (DestinationRules are read with it) and cluster domain. */
  kubeconfig?: string;
  clusterDomain?: string;
  log: Logger;
  registry?: Registry;
}

/** Builds the proxy of a `proxy` section; throws ConfigError on bad values, SteeringError without nft/iptables. */
export async function createProxyAgent(cfg: ProxyConfig, components: ProxyAgentComponents): Promise<ServiceProxy> {
  try {
    createCidrList(cfg.directCidrs ?? []);
  } catch (err) {
    throw new ConfigError(`proxy.directCidrs: ${(err as Error).message}`);
  }
  const steering = await createSteering(cfg.steering ?? 'auto');
  let rest: KubeRest | undefined;
  if (cfg.destinationRules ?? true) rest = await createKubeRest(loadClusterAccess(components.kubeconfig).access);
  const rules = rest
    ? createDestinationRules(
        { domain: (components.clusterDomain ?? 'cluster.local').replace(/\.$/, '').toLowerCase() },
        { rest, log: components.log },
      )
    : undefined;
  const proxy = createServiceProxy(
    {
      directCidrs: cfg.directCidrs,
      udpIdleMs: cfg.udpIdleSeconds === undefined ? undefined : cfg.udpIdleSeconds * 1000,
    },
    {
      catalog: components.catalog,
      mesh: components.mesh,
      steering,
      rules,
      log: components.log,
      registry: components.registry,
    },
  );
  return {
    ready: proxy.ready,
    status: () => proxy.status(),
    explain: (namespace, name) => proxy.explain(namespace, name),
    async start(signal) {
      try {
        await proxy.start(signal);
      } finally {
        rest?.close();
      }
    },
  };
}
