/**
 * The pure part of discovery: what a Service and its EndpointSlices mean to the proxy and DNS.
 * No I/O; the catalog (catalog.ts) feeds it what the informers hold.
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { DEFAULT_AFFINITY_TIMEOUT_S, OPT_OUT_LABELS } from './constants.ts';

const Meta = Type.Object({
  name: Type.String({ minLength: 1 }),
  namespace: Type.String({ minLength: 1 }),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
});
const Protocol = Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]);

/** The fields of a core/v1 Service we read (others are ignored, not rejected). */
export const ServiceSchema = Type.Object({
  metadata: Meta,
  spec: Type.Object({
    type: Type.Optional(Type.String()),
    clusterIP: Type.Optional(Type.String()),
    clusterIPs: Type.Optional(Type.Array(Type.String())),
    externalName: Type.Optional(Type.String()),
    sessionAffinity: Type.Optional(Type.String()),
    sessionAffinityConfig: Type.Optional(
      Type.Object({
        clientIP: Type.Optional(Type.Object({ timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })) })),
      }),
    ),
    ports: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.Optional(Type.String()),
          protocol: Type.Optional(Protocol),
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          targetPort: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
          appProtocol: Type.Optional(Type.String()),
        }),
      ),
    ),
  }),
});
export type ServiceObject = Static<typeof ServiceSchema>;

const Conditions = Type.Object({
  ready: Type.Optional(Type.Boolean()),
  serving: Type.Optional(Type.Boolean()),
  terminating: Type.Optional(Type.Boolean()),
});

/** The fields of a discovery.k8s.io/v1 EndpointSlice we read. */
export const EndpointSliceSchema = Type.Object({
  metadata: Meta,
  addressType: Type.String(),
  endpoints: Type.Union([
    Type.Array(
      Type.Object({
        addresses: Type.Array(Type.String(), { minItems: 1 }),
        conditions: Type.Optional(Conditions),
        nodeName: Type.Optional(Type.String()),
        zone: Type.Optional(Type.String()),
        hostname: Type.Optional(Type.String()),
        targetRef: Type.Optional(
          Type.Object({ kind: Type.Optional(Type.String()), name: Type.Optional(Type.String()) }),
        ),
      }),
    ),
    Type.Null(),
  ]),
  ports: Type.Optional(
    Type.Union([
      Type.Array(
        Type.Object({
          name: Type.Optional(Type.String()),
          protocol: Type.Optional(Protocol),
          port: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Null()])),
          appProtocol: Type.Optional(Type.String()),
        }),
      ),
      Type.Null(),
    ]),
  ),
});
export type EndpointSliceObject = Static<typeof EndpointSliceSchema>;

export const checkService = Compile(ServiceSchema);
export const checkEndpointSlice = Compile(EndpointSliceSchema);

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** One port of a Service. */
export interface ServicePort {
  /** '' when the Service has a single unnamed port. */
  name: string;
  protocol: Protocol;
  port: number;
  /** As written in the Service (a number, or a container port name resolved per slice). */
  targetPort: number | string;
  appProtocol?: string;
}

/** What the proxy and DNS need to know of a Service. */
export interface ServiceInfo {
  namespace: string;
  name: string;
  /** `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`. */
  type: string;
  /** Primary family first (spec.clusterIPs); empty when headless or ExternalName. */
  clusterIPs: string[];
  /** clusterIP `None`: DNS answers with the endpoint addresses, nothing to proxy. */
  headless: boolean;
  /** For `ExternalName` Services (DNS answers a CNAME later). */
  externalName?: string;
  ports: ServicePort[];
  sessionAffinity: 'None' | 'ClientIP';
  /** With `ClientIP` affinity: how long a client sticks to its endpoint, seconds (default 10800). */
  sessionAffinityTimeoutSeconds?: number;
}

/** A port of one endpoint: the slice's number for the Service port of this name. */
export interface EndpointPort {
  name: string;
  protocol: Protocol;
  port: number;
  appProtocol?: string;
}

/** One endpoint (a pod, usually) of a Service, from one EndpointSlice. */
export interface Endpoint {
  /** Every address the slice lists for it (all of one family: the slice's addressType). */
  addresses: string[];
  family: 'IPv4' | 'IPv6';
  /** The node it runs on; undefined when the slice does not say. */
  nodeName?: string;
  zone?: string;
  hostname?: string;
  /** Conditions as Kubernetes reads them: absent ready/serving means true, absent terminating false. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** Only the ports that match a Service port by name and protocol, with the slice's numbers. */
  ports: EndpointPort[];
}

export interface ServiceEntry {
  service: ServiceInfo;
  /** Sorted by family, then first address; one entry per address and port set across slices. */
  endpoints: Endpoint[];
}

/** Why a Service is not in the catalog, or undefined when it is. */
export function exclusion(svc: ServiceObject): string | undefined {
  if (svc.metadata.namespace === 'default' && svc.metadata.name === 'kubernetes') return 'api-server';
  for (const label of OPT_OUT_LABELS) if (svc.metadata.labels?.[label] !== undefined) return `label ${label}`;
  return undefined;
}

/** The label selector that asks the API only for Services no opt-out label excludes. */
export const OPT_OUT_SELECTOR = OPT_OUT_LABELS.map((l) => `!${l}`).join(',');

export function serviceInfo(svc: ServiceObject): ServiceInfo {
  const spec = svc.spec;
  const headless = spec.clusterIP === 'None';
  const clusterIPs = headless
    ? []
    : (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter(
        (ip) => ip !== '' && ip !== 'None',
      );
  const affinity = spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  return {
    namespace: svc.metadata.namespace,
    name: svc.metadata.name,
    type: spec.type ?? 'ClusterIP',
    clusterIPs,
    headless,
    ...(spec.externalName ? { externalName: spec.externalName } : {}),
    ports: (spec.ports ?? []).map((p) => ({
      name: p.name ?? '',
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    })),
    sessionAffinity: affinity,
    ...(affinity === 'ClientIP'
      ? {
          sessionAffinityTimeoutSeconds:
            spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_S,
        }
      : {}),
  };
}

/**
 * The endpoints of a Service from all its slices, as kube-proxy reads them: only IPv4 and IPv6
 * slices (FQDN is deprecated and not routable), each slice's ports matched to the Service's by
 * name and protocol (so a named targetPort resolves to a different number per slice), ports with
 * no number dropped, and an endpoint listed by two slices (a pod moving between slices) kept once,
 * the ready copy winning.
 */
export function mergeEndpoints(service: ServiceInfo, slices: Iterable<EndpointSliceObject>): Endpoint[] {
  const wanted = new Set(service.ports.map((p) => `${p.name}/${p.protocol}`));
  const byKey = new Map<string, Endpoint>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports: EndpointPort[] = [];
    for (const p of slice.ports ?? []) {
      const name = p.name ?? '';
      const protocol = p.protocol ?? 'TCP';
      if (typeof p.port !== 'number' || !wanted.has(`${name}/${protocol}`)) continue;
      ports.push({ name, protocol, port: p.port, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) });
    }
    ports.sort((a, b) => a.name.localeCompare(b.name) || a.protocol.localeCompare(b.protocol));
    for (const e of slice.endpoints ?? []) {
      const ready = e.conditions?.ready ?? true;
      const ep: Endpoint = {
        addresses: [...e.addresses],
        family: slice.addressType,
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
        ...(e.zone ? { zone: e.zone } : {}),
        ...(e.hostname ? { hostname: e.hostname } : {}),
        ready,
        serving: e.conditions?.serving ?? ready,
        terminating: e.conditions?.terminating ?? false,
        ports,
      };
      const key = `${e.addresses[0]}|${ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',')}`;
      const prev = byKey.get(key);
      if (!prev || (!prev.ready && ep.ready)) byKey.set(key, ep);
    }
  }
  return [...byKey.values()].sort(
    (a, b) => a.family.localeCompare(b.family) || (a.addresses[0] ?? '').localeCompare(b.addresses[0] ?? ''),
  );
}

/** The port number of `ep` for the Service port `name`/`protocol`, if its slice has one. */
export function endpointPort(ep: Endpoint, name: string, protocol: Protocol = 'TCP'): number | undefined {
  return ep.ports.find((p) => p.name === name && p.protocol === protocol)?.port;
}

/** An IP in the one form the API server writes (IPv6 compressed, lower case), so lookups match. */
export function canonicalIP(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip.replace(/^\[|\]$/g, '')}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** The key under which `byClusterIP` finds a Service port. */
export function clusterIPKey(ip: string, port: number, protocol: Protocol): string {
  return `${canonicalIP(ip)}|${port}|${protocol}`;
}
