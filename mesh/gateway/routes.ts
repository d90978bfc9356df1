/**
 * Gateways and VirtualServices → the routing table of this gateway: per port, virtual hosts
 * (host patterns) each with an ordered list of routes, plus a status per object. Pure: the
 * Services and Secrets it may refer to are looked up through the functions it is given.
 *
 * Istio's rules followed here: a Gateway applies when its selector is within our labels; a
 * VirtualService binds to Gateways listed in `gateways` (`ns/name`, or `name` in its own
 * namespace; no list means the mesh only); its hosts bind to the server hosts they intersect;
 * VirtualServices for one host are merged in creation order (oldest first), routes in order.
 * An invalid VirtualService (bad regex, bad duration, route with no action) is refused whole,
 * as Istio's validation would refuse it; an unknown destination only makes its route answer 503.
 */
import { parseDuration } from '../../common/duration.ts';
import type { ServiceInfo } from '../services/index.ts';
import { ActionError, compileAction, type RouteAction } from './actions.ts';
import { bestHost, intersect, parseServerHost, qualify, selects, validHost } from './hosts.ts';
import { type CompiledMatch, compileMatch, MatchError } from './matchers.ts';
import type { Gateway, Headers, HttpRoute, Issue, ObjectStatus, VirtualService } from './model.ts';
import { RegexError } from './regex.ts';
import { type RetryPolicy, RetryPolicyError, retryPolicy } from './retry.ts';

export interface TableInput {
  gateways: readonly Gateway[];
  virtualServices: readonly VirtualService[];
  /** This gateway's own labels (what `selector` is compared with). */
  labels: Readonly<Record<string, string>>;
  /** Cluster domain, for short names. */
  domain: string;
  service(namespace: string, name: string): ServiceInfo | undefined;
  /** Is there a Secret of this name (for TLS servers)? Absent: not checked. */
  secretExists?(namespace: string, name: string): boolean;
}

export interface Route {
  /** `namespace/virtualservice/route-name-or-index`, the metric and log label. */
  id: string;
  matches: CompiledMatch[];
  action: RouteAction;
  timeoutMs?: number;
  retry: RetryPolicy;
  headers?: Headers;
}

export interface VirtualHost {
  host: string;
  routes: Route[];
}

export interface Listener {
  port: number;
  protocol: 'HTTP';
  /** Host pattern → virtual host. */
  hosts: Map<string, VirtualHost>;
}

export interface RoutingTable {
  listeners: Map<number, Listener>;
  statuses: ObjectStatus[];
}

const SERVED_PROTOCOLS = new Set(['HTTP']);
const UNSUPPORTED_ROUTE_FIELDS = ['fault', 'mirror', 'mirrors', 'mirrorPercentage', 'corsPolicy', 'delegate'];

const created = (o: { metadata: { creationTimestamp?: string; namespace: string; name: string } }) =>
  `${o.metadata.creationTimestamp ?? ''}|${o.metadata.namespace}/${o.metadata.name}`;

interface BoundServer {
  gateway: string;
  port: number;
  host: { namespace?: string; host: string };
}

export function buildTable(input: TableInput): RoutingTable {
  const statuses: ObjectStatus[] = [];
  const listeners = new Map<number, Listener>();
  const bound: BoundServer[] = [];
  const selected = new Set<string>();
  const portProtocol = new Map<number, string>();

  for (const gw of [...input.gateways].sort((a, b) => (created(a) < created(b) ? -1 : 1))) {
    if (!selects(gw.spec.selector, input.labels)) continue;
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    selected.add(key);
    const issues: Issue[] = [];
    let served = 0;
    gw.spec.servers.forEach((s, i) => {
      const at = `spec.servers[${i}]`;
      const protocol = s.port.protocol.toUpperCase();
      const bad = s.hosts.find((h) => !validHost(parseServerHost(h, gw.metadata.namespace).host));
      if (bad !== undefined) {
        issues.push({ reason: 'InvalidHost', path: `${at}.hosts`, message: `"${bad}" is not a host name` });
        return;
      }
      const cred = s.tls?.credentialName;
      if (cred && input.secretExists && !input.secretExists(gw.metadata.namespace, cred)) {
        issues.push({
          reason: 'MissingSecret',
          path: `${at}.tls.credentialName`,
          message: `no Secret ${gw.metadata.namespace}/${cred}`,
        });
      }
      const other = portProtocol.get(s.port.number);
      if (other !== undefined && other !== protocol) {
        issues.push({
          reason: 'PortConflict',
          path: `${at}.port`,
          message: `port ${s.port.number} is already ${other}`,
        });
        return;
      }
      portProtocol.set(s.port.number, protocol);
      if (!SERVED_PROTOCOLS.has(protocol)) {
        issues.push({
          reason: 'UnsupportedProtocol',
          path: `${at}.port.protocol`,
          message: `${protocol} servers are not served yet`,
        });
        return;
      }
      if (!listeners.has(s.port.number)) {
        listeners.set(s.port.number, { port: s.port.number, protocol: 'HTTP', hosts: new Map() });
      }
      for (const h of s.hosts)
        bound.push({ gateway: key, port: s.port.number, host: parseServerHost(h, gw.metadata.namespace) });
      served++;
    });
    statuses.push({
      kind: 'Gateway',
      namespace: gw.metadata.namespace,
      name: gw.metadata.name,
      accepted: served > 0,
      issues,
    });
  }

  for (const vs of [...input.virtualServices].sort((a, b) => (created(a) < created(b) ? -1 : 1))) {
    const ns = vs.metadata.namespace;
    const refs = (vs.spec.gateways ?? []).filter((g) => g !== 'mesh').map((g) => (g.includes('/') ? g : `${ns}/${g}`));
    const mine = refs.filter((r) => selected.has(r));
    if (!mine.length) continue; // bound to the mesh or to gateways another gateway serves
    const status: ObjectStatus = {
      kind: 'VirtualService',
      namespace: ns,
      name: vs.metadata.name,
      accepted: false,
      issues: [],
    };
    statuses.push(status);
    const compiled = compileVirtualService(vs, input, status.issues);
    if (!compiled) continue;
    let any = false;
    (vs.spec.hosts ?? []).forEach((raw, hi) => {
      const host = qualify(raw, ns, input.domain);
      if (!validHost(host)) {
        status.issues.push({
          reason: 'InvalidHost',
          path: `spec.hosts[${hi}]`,
          message: `"${raw}" is not a host name`,
        });
        return;
      }
      let placed = false;
      for (const b of bound) {
        if (!mine.includes(b.gateway) || (b.host.namespace !== undefined && b.host.namespace !== ns)) continue;
        const domain = intersect(host, b.host.host);
        if (domain === undefined) continue;
        const listener = listeners.get(b.port) as Listener;
        let vh = listener.hosts.get(domain);
        if (!vh) {
          vh = { host: domain, routes: [] };
          listener.hosts.set(domain, vh);
        }
        for (const r of compiled(b.gateway, b.port)) if (!vh.routes.includes(r)) vh.routes.push(r);
        placed = true;
      }
      if (placed) any = true;
      else {
        status.issues.push({
          reason: 'HostNotOnGateway',
          path: `spec.hosts[${hi}]`,
          message: `no server of ${mine.join(', ')} admits host ${host} from namespace ${ns}`,
        });
      }
    });
    status.accepted = any;
  }
  return { listeners, statuses };
}

/**
 * Validates and compiles every route of `vs`; returns the routes that apply on one gateway and
 * port (match blocks with `gateways` or `port` elsewhere removed), or undefined when refused.
 */
function compileVirtualService(
  vs: VirtualService,
  input: TableInput,
  issues: Issue[],
): ((gateway: string, port: number) => Route[]) | undefined {
  const ns = vs.metadata.namespace;
  let fatal = false;
  const fail = (reason: Issue['reason'], path: string, message: string) => {
    issues.push({ reason, path, message });
    fatal = true;
  };
  if (!vs.spec.hosts?.length) fail('InvalidObject', 'spec.hosts', 'a VirtualService bound to a gateway needs hosts');
  if (vs.spec.tcp?.length)
    issues.push({ reason: 'UnsupportedField', path: 'spec.tcp', message: 'TCP routes are not served yet' });
  if (vs.spec.tls?.length)
    issues.push({ reason: 'UnsupportedField', path: 'spec.tls', message: 'TLS routes are not served yet' });
  const routes: {
    route: Route;
    src: HttpRoute;
    matchGateways: (string[] | undefined)[];
    matchPorts: (number | undefined)[];
  }[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    const at = `spec.http[${i}]`;
    for (const f of UNSUPPORTED_ROUTE_FIELDS) {
      if ((r as Record<string, unknown>)[f] !== undefined) {
        issues.push({ reason: 'UnsupportedField', path: `${at}.${f}`, message: `${f} is ignored by this gateway` });
      }
    }
    try {
      const matches = (r.match ?? []).map((m, j) => compileMatch(m, `${at}.match[${j}]`));
      const action = compileAction(r, at, { ns, domain: input.domain, service: input.service }, issues);
      const route: Route = {
        id: `${ns}/${vs.metadata.name}/${r.name ?? i}`,
        matches,
        action,
        retry: retryPolicy(r.retries),
      };
      if (r.timeout !== undefined) {
        const ms = parseRouteDuration(r.timeout, `${at}.timeout`);
        if (ms > 0) route.timeoutMs = ms;
      }
      if (r.headers) route.headers = r.headers;
      routes.push({
        route,
        src: r,
        matchGateways: (r.match ?? []).map((m) => m.gateways?.map((g) => (g.includes('/') ? g : `${ns}/${g}`))),
        matchPorts: (r.match ?? []).map((m) => m.port),
      });
    } catch (err) {
      if (err instanceof RegexError) fail('InvalidRegex', at, err.message);
      else if (
        err instanceof MatchError ||
        err instanceof ActionError ||
        err instanceof RetryPolicyError ||
        err instanceof DurationError
      )
        fail('InvalidRoute', at, (err as Error).message);
      else throw err;
    }
  });
  if (fatal) return undefined;
  const own = new Map(Object.entries(input.labels));
  return (gateway, port) => {
    const out: Route[] = [];
    for (const { route, src, matchGateways, matchPorts } of routes) {
      if (!src.match?.length) {
        out.push(route);
        continue;
      }
      const keep = route.matches.filter((_m, j) => {
        const gws = matchGateways[j];
        const p = matchPorts[j];
        const m = src.match?.[j];
        const labelsOk = !m?.sourceLabels || Object.entries(m.sourceLabels).every(([k, v]) => own.get(k) === v);
        return (!gws || gws.includes(gateway)) && (p === undefined || p === port) && labelsOk;
      });
      if (keep.length === route.matches.length) out.push(route);
      else if (keep.length) out.push({ ...route, matches: keep });
    }
    return out;
  };
}

class DurationError extends Error {
  override name = 'DurationError';
  code = 'ERR_INVALID_DURATION';
}

function parseRouteDuration(text: string, path: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new DurationError(`${path}: ${(err as Error).message}`);
  }
}

/** The virtual host of `listener` that serves request host `name` (Envoy's selection order). */
export function virtualHostFor(listener: Listener, name: string): VirtualHost | undefined {
  const h = bestHost(listener.hosts.keys(), name);
  return h === undefined ? undefined : listener.hosts.get(h);
}
