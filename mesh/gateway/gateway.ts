/**
 * `fedmesh gateway`'s core: Gateways and VirtualServices watched (the `networking.istio.io`
 * version the API server serves: v1, else v1beta1), the routing table rebuilt on every change of
 * them or of the service catalog, one HTTP listener per served Gateway port, and the status of
 * each object (logged when it changes, kept for /status).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInformer, type Informer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { LbPolicy } from '../proxy/index.ts';
import type { ServiceCatalog } from '../services/index.ts';
import { gatewayMetrics } from './metrics.ts';
import { checkGateway, checkVirtualService, type Gateway, type ObjectStatus, type VirtualService } from './model.ts';
import { buildTable, type RoutingTable } from './routes.ts';
import { createListener } from './server.ts';
import { createUpstreams } from './upstream.ts';

export const ISTIO_GROUP = 'networking.istio.io';

export const gatewayResource = (version: string): ResourceType => ({
  group: ISTIO_GROUP,
  version,
  plural: 'gateways',
  kind: 'Gateway',
});
export const virtualServiceResource = (version: string): ResourceType => ({
  group: ISTIO_GROUP,
  version,
  plural: 'virtualservices',
  kind: 'VirtualService',
});

/** The version to watch: v1 when served, else v1beta1 (Istio before 1.22). */
export async function istioVersion(rest: KubeRest, signal?: AbortSignal): Promise<string> {
  const g = await rest.request<{ versions?: { version: string }[] }>(
    'GET',
    `/apis/${ISTIO_GROUP}`,
    signal ? { signal } : {},
  );
  const versions = (g.versions ?? []).map((v) => v.version);
  return versions.includes('v1') ? 'v1' : 'v1beta1';
}

export interface GatewayInit {
  /** The gateway's own labels, compared with each Gateway's `selector`. */
  labels: Record<string, string>;
  /** Cluster domain. Default `cluster.local`. */
  domain?: string;
  /** Where a Gateway port listens: default `0.0.0.0` and the port itself. */
  bind?: (port: number) => { host: string; port: number };
  /** This node's name (its endpoints are local). */
  nodeName?: string;
}

export interface GatewayComponents {
  catalog: Pick<ServiceCatalog, 'lookup' | 'onChange' | 'synced'>;
  /** List and watch Gateways and VirtualServices (tests may pass their own). */
  listerWatchers: { gateways: ListerWatcher; virtualServices: ListerWatcher };
  policyFor?(namespace: string, name: string, port: number): { policy: LbPolicy } | undefined;
  log: Logger;
  registry?: Registry;
  /** Called when an object's outcome changes (events.ts posts it as an Event). */
  onStatus?(status: ObjectStatus, uid: string | undefined): void;
}

export interface IngressGateway {
  /** Runs until `signal` aborts; resolves once listeners are closed. */
  start(signal: AbortSignal): Promise<void>;
  /** Objects listed, catalog synced, every served port bound. */
  ready(): boolean;
  status(): { ports: { port: number; bound: string; hosts: string[] }[]; objects: ObjectStatus[] };
}

export function listerWatchersFor(rest: KubeRest, version: string) {
  return {
    gateways: restListerWatcher(rest, gatewayResource(version)),
    virtualServices: restListerWatcher(rest, virtualServiceResource(version)),
  };
}

export function createGateway(init: GatewayInit, c: GatewayComponents): IngressGateway {
  const log = c.log.child({ component: 'mesh.gateway' });
  const domain = (init.domain ?? 'cluster.local').replace(/\.$/, '').toLowerCase();
  const bind = init.bind ?? ((port: number) => ({ host: '0.0.0.0', port }));
  const gws: Informer = createInformer(
    { resource: gatewayResource('any') },
    { listerWatcher: c.listerWatchers.gateways, log },
  );
  const vss: Informer = createInformer(
    { resource: virtualServiceResource('any') },
    { listerWatcher: c.listerWatchers.virtualServices, log },
  );
  const metrics = gatewayMetrics(c.registry);
  const upstreams = createUpstreams({
    catalog: c.catalog,
    ...(c.policyFor ? { policyFor: c.policyFor } : {}),
    ...(init.nodeName ? { nodeName: init.nodeName } : {}),
  });
  let table: RoutingTable = { listeners: new Map(), statuses: [] };
  let objects: ObjectStatus[] = [];
  const servers = new Map<number, { server: Server; bound: string; listening: boolean }>();
  const reported = new Map<string, string>();
  let stopped = false;

  const parse = <T>(
    list: KubeObject[],
    check: { Check(v: unknown): boolean },
    kind: ObjectStatus['kind'],
    out: ObjectStatus[],
  ) => {
    const ok: T[] = [];
    for (const o of list) {
      if (check.Check(o)) ok.push(o as T);
      else {
        out.push({
          kind,
          namespace: o.metadata.namespace ?? '',
          name: o.metadata.name,
          accepted: false,
          issues: [{ reason: 'InvalidObject', path: 'spec', message: 'does not match the schema' }],
        });
      }
    }
    return ok;
  };

  function rebuild() {
    if (stopped) return;
    const invalid: ObjectStatus[] = [];
    const gateways = parse<Gateway>(gws.list(), checkGateway, 'Gateway', invalid);
    const virtualServices = parse<VirtualService>(vss.list(), checkVirtualService, 'VirtualService', invalid);
    table = buildTable({
      gateways,
      virtualServices,
      labels: init.labels,
      domain,
      service: (ns, name) => c.catalog.lookup(ns, name)?.service,
    });
    objects = [...invalid, ...table.statuses];
    report();
    syncListeners();
  }

  function report() {
    const seen = new Set<string>();
    for (const s of objects) {
      const key = `${s.kind}/${s.namespace}/${s.name}`;
      seen.add(key);
      const text = JSON.stringify([s.accepted, s.issues]);
      if (reported.get(key) === text) continue;
      reported.set(key, text);
      const fields = { kind: s.kind, namespace: s.namespace, name: s.name, accepted: s.accepted, issues: s.issues };
      if (s.issues.length) log.warn(fields, s.accepted ? 'object served with issues' : 'object refused');
      else log.info(fields, 'object accepted');
      c.onStatus?.(s, (s.kind === 'Gateway' ? gws : vss).get(s.namespace, s.name)?.metadata.uid);
    }
    for (const k of reported.keys()) if (!seen.has(k)) reported.delete(k);
  }

  function syncListeners() {
    for (const [port, s] of servers) {
      if (table.listeners.has(port)) continue;
      servers.delete(port);
      s.server.close();
      s.server.closeAllConnections();
      log.info({ port }, 'gateway port closed');
    }
    for (const port of table.listeners.keys()) {
      if (servers.has(port)) continue;
      const at = bind(port);
      const server = createListener(port, { table: () => table, upstreams, metrics, log });
      const entry = { server, bound: `${at.host}:${at.port}`, listening: false };
      servers.set(port, entry);
      server.once('error', (err) => log.error({ err, port, bind: entry.bound }, 'gateway port cannot listen'));
      server.listen(at.port, at.host, () => {
        const a = server.address() as AddressInfo;
        entry.bound = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
        entry.listening = true;
        log.info({ port, bind: entry.bound }, 'gateway port listening');
      });
    }
  }

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      if (gws.hasSynced() && vss.hasSynced()) rebuild();
    });
  };
  for (const inf of [gws, vss])
    inf.addHandlers({ add: schedule, update: schedule, delete: schedule, relisted: schedule });

  return {
    async start(signal) {
      const unsubscribe = c.catalog.onChange(schedule);
      try {
        await Promise.all([gws.start(signal), vss.start(signal)]);
      } finally {
        stopped = true;
        unsubscribe();
        await Promise.all(
          [...servers.values()].map(
            (s) =>
              new Promise<void>((res) => {
                s.server.close(() => res());
                s.server.closeAllConnections();
              }),
          ),
        );
        servers.clear();
        upstreams.close();
      }
    },
    ready: () =>
      gws.hasSynced() && vss.hasSynced() && c.catalog.synced() && [...servers.values()].every((s) => s.listening),
    status: () => ({
      ports: [...table.listeners.values()].map((l) => ({
        port: l.port,
        bound: servers.get(l.port)?.bound ?? '',
        hosts: [...l.hosts.keys()],
      })),
      objects,
    }),
  };
}
