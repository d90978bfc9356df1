/**
 * The service catalog: two informers (Services without an opt-out label, all EndpointSlices),
 * folded per Service into one `ServiceEntry` by the pure model (model.ts), indexed by name and
 * by cluster IP:port/protocol, with a change event whenever an entry really changes.
 */

import { createInformer, type Informer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import { SERVICE_NAME_LABEL } from './constants.ts';
import {
  checkEndpointSlice,
  checkService,
  clusterIPKey,
  type EndpointSliceObject,
  exclusion,
  mergeEndpoints,
  OPT_OUT_SELECTOR,
  type Protocol,
  type ServiceEntry,
  type ServicePort,
  serviceInfo,
} from './model.ts';

export const SERVICES: ResourceType = { group: '', version: 'v1', plural: 'services', kind: 'Service' };
export const ENDPOINT_SLICES: ResourceType = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
};

export interface ServiceCatalogInit {
  /** Only this namespace; default every namespace. */
  namespace?: string;
}

export interface ServiceCatalogComponents {
  rest: KubeRest;
  log: Logger;
  /** Replaces the API calls (unit tests); default list + watch through `rest`. */
  listerWatchers?: { services: ListerWatcher; endpointSlices: ListerWatcher };
}

/** `entry` undefined: the Service is gone from the catalog (deleted, opted out, or invalid). */
export interface ServiceChange {
  namespace: string;
  name: string;
  entry?: ServiceEntry;
  previous?: ServiceEntry;
}

export interface ClusterIPMatch {
  entry: ServiceEntry;
  /** The Service port that `ip`:`port`/`protocol` addresses. */
  port: ServicePort;
}

export interface ServiceCatalog {
  /** Lists and watches until `signal` aborts; resolves once stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** True once Services and EndpointSlices were both listed in full. */
  synced(): boolean;
  /** Resolves true when synced, false if `signal` aborted first. */
  waitForSync(signal: AbortSignal): Promise<boolean>;
  lookup(namespace: string, name: string): ServiceEntry | undefined;
  /** The Service port behind a cluster IP (either family), port and protocol (default TCP). */
  byClusterIP(ip: string, port: number, protocol?: Protocol): ClusterIPMatch | undefined;
  /** Every Service in the catalog. */
  entries(): IterableIterator<ServiceEntry>;
  /** Called after each real change of an entry (not for no-op updates); returns the unsubscribe. */
  onChange(listener: (change: ServiceChange) => void): () => void;
}

const keyOf = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export function createServiceCatalog(init: ServiceCatalogInit, components: ServiceCatalogComponents): ServiceCatalog {
  const log = components.log.child({ component: 'mesh.services' });
  const lws = components.listerWatchers ?? {
    services: restListerWatcher(components.rest, SERVICES, init.namespace),
    endpointSlices: restListerWatcher(components.rest, ENDPOINT_SLICES, init.namespace),
  };
  const services: Informer = createInformer(
    { resource: SERVICES, namespace: init.namespace, labelSelector: OPT_OUT_SELECTOR },
    { listerWatcher: lws.services, log },
  );
  const slices: Informer = createInformer(
    { resource: ENDPOINT_SLICES, namespace: init.namespace },
    { listerWatcher: lws.endpointSlices, log },
  );

  const entries = new Map<string, ServiceEntry>();
  /** Service key → slice key → valid slice. */
  const slicesOf = new Map<string, Map<string, EndpointSliceObject>>();
  const byIP = new Map<string, ClusterIPMatch>();
  const listeners = new Set<(c: ServiceChange) => void>();

  function serviceKeyOfSlice(s: KubeObject): string | undefined {
    const name = s.metadata.labels?.[SERVICE_NAME_LABEL];
    return name ? `${s.metadata.namespace ?? ''}/${name}` : undefined;
  }

  function index(entry: ServiceEntry | undefined, add: boolean): void {
    if (!entry) return;
    for (const ip of entry.service.clusterIPs)
      for (const port of entry.service.ports) {
        const k = clusterIPKey(ip, port.port, port.protocol);
        if (add) byIP.set(k, { entry, port });
        else if (byIP.get(k)?.entry === entry) byIP.delete(k);
      }
  }

  function recompute(key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const obj = services.get(namespace, name);
    let entry: ServiceEntry | undefined;
    if (obj && !checkService.Check(obj)) {
      log.warn({ service: key }, 'service does not match the schema, ignored');
    } else if (obj && checkService.Check(obj)) {
      const why = exclusion(obj);
      if (why) log.debug({ service: key, why }, 'service not proxied');
      else {
        const service = serviceInfo(obj);
        entry = { service, endpoints: mergeEndpoints(service, slicesOf.get(key)?.values() ?? []) };
      }
    }
    const previous = entries.get(key);
    if (JSON.stringify(previous) === JSON.stringify(entry)) return;
    index(previous, false);
    if (entry) entries.set(key, entry);
    else entries.delete(key);
    index(entry, true);
    for (const l of listeners) {
      try {
        l({ namespace, name, entry, previous });
      } catch (err) {
        log.error({ err, service: key }, 'service change listener failed');
      }
    }
  }

  function putSlice(s: KubeObject | undefined, old: KubeObject | undefined): void {
    const before = old && serviceKeyOfSlice(old);
    const after = s && serviceKeyOfSlice(s);
    const key = keyOf((s ?? old) as KubeObject);
    if (before) slicesOf.get(before)?.delete(key);
    if (before && slicesOf.get(before)?.size === 0) slicesOf.delete(before);
    if (s && after) {
      if (checkEndpointSlice.Check(s)) {
        const m = slicesOf.get(after) ?? new Map<string, EndpointSliceObject>();
        slicesOf.set(after, m);
        m.set(key, s);
      } else log.warn({ endpointSlice: key }, 'endpoint slice does not match the schema, ignored');
    }
    if (before) recompute(before);
    if (after && after !== before) recompute(after);
  }

  services.addHandlers({
    add: (o) => recompute(keyOf(o)),
    update: (_old, o) => recompute(keyOf(o)),
    delete: (o) => recompute(keyOf(o)),
  });
  slices.addHandlers({
    add: (o) => putSlice(o, undefined),
    update: (old, o) => putSlice(o, old),
    delete: (o) => putSlice(undefined, o),
  });

  return {
    async start(signal) {
      await Promise.all([services.start(signal), slices.start(signal)]);
    },
    synced: () => services.hasSynced() && slices.hasSynced(),
    async waitForSync(signal) {
      const [a, b] = await Promise.all([services.waitForSync(signal), slices.waitForSync(signal)]);
      return a && b;
    },
    lookup: (namespace, name) => entries.get(`${namespace}/${name}`),
    byClusterIP: (ip, port, protocol = 'TCP') => byIP.get(clusterIPKey(ip, port, protocol)),
    entries: () => entries.values(),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
