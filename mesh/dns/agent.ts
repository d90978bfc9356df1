/**
 * The node agent's service side, built from the `services` and `dns` config sections: the service
 * catalog (Services and EndpointSlices from the API server) and the node-local resolver over it.
 * `fedmesh mesh` creates it beside the mesh node and runs it under the same shutdown signal.
 */
import { ConfigError } from '../../common/errors.ts';
import { loadClusterAccess } from '../../common/kube/access.ts';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { createServiceCatalog, type ServiceCatalog } from '../services/index.ts';
import type { DnsConfig, ServicesConfig } from './config.ts';
import { DEFAULT_DNS_LISTEN } from './constants.ts';
import { createDnsResolver, type DnsResolver, type Listen, parseUpstream, type Upstream } from './index.ts';

export interface ServiceAgent {
  readonly catalog?: ServiceCatalog;
  readonly resolver?: DnsResolver;
  /** Resolves once the resolver listens (the catalog syncs in the background). Rejects if it cannot bind. */
  readonly ready: Promise<void>;
  /** Runs until `signal` aborts; resolves once everything stopped. */
  start(signal: AbortSignal): Promise<void>;
}

function parseListen(text: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`dns.listen: expected HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Undefined when neither section is configured. Throws ConfigError on bad values or no cluster access. */
export async function createServiceAgent(
  init: { services?: ServicesConfig; dns?: DnsConfig },
  components: { log: Logger; registry?: Registry },
): Promise<ServiceAgent | undefined> {
  if (!init.services && !init.dns) return undefined;
  const { log, registry } = components;
  let rest: KubeRest | undefined;
  let catalog: ServiceCatalog | undefined;
  if (init.services) {
    const { access, source } = loadClusterAccess(init.services.kubeconfig);
    rest = await createKubeRest(access);
    catalog = createServiceCatalog({ namespace: init.services.namespace }, { rest, log });
    log.info({ cluster: source, namespace: init.services.namespace ?? '*' }, 'service discovery configured');
  }
  let resolver: DnsResolver | undefined;
  if (init.dns) {
    let upstreams: Upstream[] | undefined;
    try {
      upstreams = init.dns.upstreams?.map(parseUpstream);
    } catch (err) {
      rest?.close();
      throw new ConfigError(`dns.upstreams: ${(err as Error).message}`);
    }
    try {
      resolver = createDnsResolver(
        {
          listen: (init.dns.listen ?? [DEFAULT_DNS_LISTEN]).map(parseListen),
          clusterDomain: init.services?.clusterDomain,
          upstreams,
          cacheSize: init.dns.cacheSize,
          ttl: init.dns.ttl,
          rateLimit: init.dns.rateLimit,
        },
        { catalog, log, registry },
      );
    } catch (err) {
      rest?.close();
      throw err;
    }
  }
  let ready: () => void = () => {};
  let failed: (err: unknown) => void = () => {};
  const readyP = new Promise<void>((res, rej) => {
    ready = res;
    failed = rej;
  });
  readyP.catch(() => {});
  return {
    catalog,
    resolver,
    ready: readyP,
    async start(signal) {
      // One part failing to start (the resolver cannot bind) stops the other.
      const ac = new AbortController();
      const inner = AbortSignal.any([signal, ac.signal]);
      const parts = [catalog?.start(inner), resolver?.start(inner)].map((p) =>
        p?.catch((err) => {
          ac.abort();
          throw err;
        }),
      );
      if (resolver) resolver.ready.then(() => ready(), failed);
      else ready();
      try {
        await Promise.all(parts);
      } catch (err) {
        failed(err);
        await Promise.allSettled(parts);
        throw err;
      } finally {
        rest?.close();
      }
    },
  };
}
