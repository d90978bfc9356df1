/**
 * What a matched route does: forward to weighted Service destinations (with rewrite), redirect,
 * or answer directly — and the request-time halves of each (weighted choice, the rewritten
 * path, the redirect's Location), as Istio and Envoy define them.
 */
import type { ServiceInfo, ServicePort } from '../services/index.ts';
import { DEFAULT_REDIRECT_CODE } from './constants.ts';
import { qualify } from './hosts.ts';
import type { CompiledMatch } from './matchers.ts';
import type { Headers, HttpRoute, Issue } from './model.ts';
import { compileRegex, type SafeRegex } from './regex.ts';

export interface Destination {
  /** Fully qualified host as written (short names qualified). */
  host: string;
  /** The Service and port; undefined when the host names no known Service (answers 503). */
  service?: ServiceInfo;
  port?: ServicePort;
  weight: number;
  headers?: Headers;
}

export interface Rewrite {
  uri?: string;
  authority?: string;
  regex?: { re: SafeRegex; rewrite: string };
}

export type RouteAction =
  | { kind: 'forward'; destinations: Destination[]; total: number; rewrite?: Rewrite }
  | {
      kind: 'redirect';
      code: number;
      uri?: string;
      authority?: string;
      port?: number;
      derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
      scheme?: string;
    }
  | { kind: 'direct'; status: number; body?: string };

export class ActionError extends Error {
  override name = 'ActionError';
  code = 'ERR_INVALID_ROUTE';
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

export interface ActionContext {
  ns: string;
  domain: string;
  service(namespace: string, name: string): ServiceInfo | undefined;
}

/** Throws ActionError or RegexError for what Istio's validation refuses; pushes non-fatal issues. */
export function compileAction(r: HttpRoute, at: string, ctx: ActionContext, issues: Issue[]): RouteAction {
  const actions = [
    r.route?.length ? 'route' : '',
    r.redirect ? 'redirect' : '',
    r.directResponse ? 'directResponse' : '',
  ].filter(Boolean);
  if (actions.length !== 1)
    throw new ActionError(
      `${at}: exactly one of route, redirect, directResponse (got ${actions.join(', ') || 'none'})`,
    );
  if (r.rewrite && !r.route?.length) throw new ActionError(`${at}: rewrite needs a route`);
  if (r.redirect) {
    const d = r.redirect;
    const code = d.redirectCode ?? DEFAULT_REDIRECT_CODE;
    if (!REDIRECT_CODES.has(code))
      throw new ActionError(`${at}.redirect.redirectCode: ${code} is not a redirect status`);
    if (d.port !== undefined && d.derivePort !== undefined)
      throw new ActionError(`${at}.redirect: port and derivePort are exclusive`);
    if (
      d.derivePort !== undefined &&
      d.derivePort !== 'FROM_PROTOCOL_DEFAULT' &&
      d.derivePort !== 'FROM_REQUEST_PORT'
    ) {
      throw new ActionError(`${at}.redirect.derivePort: unknown value ${d.derivePort}`);
    }
    return {
      kind: 'redirect',
      code,
      ...(d.uri === undefined ? {} : { uri: d.uri }),
      ...(d.authority === undefined ? {} : { authority: d.authority }),
      ...(d.port === undefined ? {} : { port: d.port }),
      ...(d.derivePort === undefined ? {} : { derivePort: d.derivePort }),
      ...(d.scheme === undefined ? {} : { scheme: d.scheme }),
    };
  }
  if (r.directResponse) {
    const s = r.directResponse.status;
    if (s < 200 || s > 599) throw new ActionError(`${at}.directResponse.status: ${s} is not an HTTP status`);
    const b = r.directResponse.body;
    const body = b?.string ?? (b?.bytes === undefined ? undefined : Buffer.from(b.bytes, 'base64').toString());
    return { kind: 'direct', status: s, ...(body === undefined ? {} : { body }) };
  }
  const routes = r.route ?? [];
  const destinations = routes.map((d, j) => destination(d, `${at}.route[${j}]`, ctx, issues));
  const explicit = routes.some((d) => d.weight !== undefined);
  // A lone destination gets everything; several without weights share equally.
  if (destinations.length === 1) (destinations[0] as Destination).weight = 1;
  else if (!explicit) for (const d of destinations) d.weight = 1;
  const total = destinations.reduce((s, d) => s + d.weight, 0);
  if (total <= 0) throw new ActionError(`${at}.route: the weights add up to 0`);
  const action: RouteAction = { kind: 'forward', destinations, total };
  if (r.rewrite) {
    const w = r.rewrite;
    if (w.uri !== undefined && w.uriRegexRewrite)
      throw new ActionError(`${at}.rewrite: uri and uriRegexRewrite are exclusive`);
    action.rewrite = {
      ...(w.uri === undefined ? {} : { uri: w.uri }),
      ...(w.authority === undefined ? {} : { authority: w.authority }),
      ...(w.uriRegexRewrite
        ? { regex: { re: compileRegex(w.uriRegexRewrite.match), rewrite: w.uriRegexRewrite.rewrite } }
        : {}),
    };
  }
  return action;
}

function destination(
  d: NonNullable<HttpRoute['route']>[number],
  at: string,
  ctx: ActionContext,
  issues: Issue[],
): Destination {
  const host = qualify(d.destination.host, ctx.ns, ctx.domain);
  const out: Destination = { host, weight: d.weight ?? 0, ...(d.headers ? { headers: d.headers } : {}) };
  const suffix = `.svc.${ctx.domain}`;
  const parts = host.endsWith(suffix) ? host.slice(0, -suffix.length).split('.') : [];
  const svc = parts.length === 2 ? ctx.service(parts[1] as string, parts[0] as string) : undefined;
  if (!svc) {
    issues.push({
      reason: 'UnknownHost',
      path: `${at}.destination.host`,
      message: `no Service ${host}: its requests get 503`,
    });
    return out;
  }
  if (d.destination.subset !== undefined) {
    issues.push({
      reason: 'UnsupportedField',
      path: `${at}.destination.subset`,
      message: 'subsets are not served yet: its requests get 503',
    });
    return out;
  }
  const want = d.destination.port?.number;
  const tcp = svc.ports.filter((p) => p.protocol === 'TCP');
  const port = want === undefined ? (tcp.length === 1 ? tcp[0] : undefined) : tcp.find((p) => p.port === want);
  if (!port) {
    const message =
      want === undefined
        ? `Service ${host} has ${tcp.length} TCP ports: name one`
        : `Service ${host} has no TCP port ${want}`;
    issues.push({ reason: 'UnknownPort', path: `${at}.destination.port`, message: `${message}; its requests get 503` });
    return out;
  }
  return { ...out, service: svc, port };
}

/** A destination by weight; `random` in [0, 1). */
export function pickDestination(
  a: Extract<RouteAction, { kind: 'forward' }>,
  random: () => number = Math.random,
): Destination {
  let x = random() * a.total;
  for (const d of a.destinations) {
    if (x < d.weight) return d;
    x -= d.weight;
  }
  return a.destinations.findLast((d) => d.weight > 0) as Destination;
}

/**
 * The upstream request target after `rewrite`: a prefix match has its matched prefix replaced
 * (Envoy's prefix_rewrite, case-insensitively when the match is), and no URI match counts as
 * prefix `/`; an exact or regex match has the whole path replaced. The query string is kept.
 */
export function rewritePath(path: string, rewrite: Rewrite | undefined, matched: CompiledMatch | undefined): string {
  if (!rewrite) return path;
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (rewrite.regex) return rewrite.regex.re.replaceAll(p, rewrite.regex.rewrite) + query;
  if (rewrite.uri === undefined) return path;
  const prefix = matched ? matched.uriPrefix : '/';
  if (prefix !== undefined) return rewrite.uri + p.slice(prefix.length) + query;
  return rewrite.uri + query;
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** The Location of a redirect for a request to `scheme://authority` + `path` on listener `port`. */
export function redirectLocation(
  a: Extract<RouteAction, { kind: 'redirect' }>,
  req: { scheme: string; authority: string; path: string },
  listenerPort: number,
): string {
  const scheme = a.scheme ?? req.scheme;
  const [reqHost, reqPort] = splitAuthority(req.authority);
  const [host, authPort] = a.authority === undefined ? [reqHost, reqPort] : splitAuthority(a.authority);
  let port = a.port ?? (a.derivePort === 'FROM_REQUEST_PORT' ? listenerPort : a.derivePort ? undefined : authPort);
  // A scheme change drops the old scheme's default port.
  if (a.scheme !== undefined && a.port === undefined && port === DEFAULT_PORT[req.scheme]) port = undefined;
  if (port === DEFAULT_PORT[scheme]) port = undefined;
  let path = req.path;
  if (a.uri !== undefined) {
    const q = req.path.indexOf('?');
    path = a.uri.includes('?') || q < 0 ? a.uri : a.uri + req.path.slice(q);
  }
  return `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path}`;
}

function splitAuthority(a: string): [string, number | undefined] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(a);
  if (!m) return [a, undefined];
  return [m[1] as string, m[2] === undefined ? undefined : Number(m[2])];
}
