/**
 * A route's destination → an endpoint and an HTTP/1.1 exchange with it. Endpoints come from the
 * service catalog and are chosen by the node proxy's balancer (its DestinationRule policy, its
 * locality order, a failed endpoint last for 5 s); they are dialled directly over keep-alive
 * connections (the tunnel path is the next layer). Retries and timeouts follow the route.
 */
import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { type Balancer, createBalancer, type LbPolicy } from '../proxy/index.ts';
import { endpointPort, type ServiceCatalog } from '../services/index.ts';
import type { Destination } from './actions.ts';
import { CONNECT_TIMEOUT_MS, FAILURE_PENALTY_MS, UPSTREAM_IDLE_SOCKETS } from './constants.ts';
import { backoffMs, type Outcome, retriable } from './retry.ts';
import type { Route } from './routes.ts';

export interface UpstreamComponents {
  catalog: Pick<ServiceCatalog, 'lookup'>;
  /** The DestinationRule policy of a Service port (the proxy's `createDestinationRules`). */
  policyFor?(namespace: string, name: string, port: number): { policy: LbPolicy } | undefined;
  /** This node's name: its endpoints are local. */
  nodeName?: string;
  random?: () => number;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** The buffered body, or undefined when it streams from `source` (then no retry is possible). */
  body?: Buffer;
  source?: NodeJS.ReadableStream;
  clientIp: string;
  signal: AbortSignal;
}

export interface UpstreamResult {
  /** The response, or undefined with `failure` when no attempt got one. */
  response?: IncomingMessage;
  failure?: 'no-endpoint' | 'connect-failure' | 'reset' | 'timeout';
  /** `host:port` of the last endpoint tried. */
  upstream?: string;
  attempts: number;
}

export interface UpstreamTarget {
  id: string;
  host: string;
  port: number;
  /** The attempt failed to connect: the endpoint is the last choice for a while. */
  failed(): void;
}

export interface Upstreams {
  exchange(route: Route, dest: Destination, req: UpstreamRequest): Promise<UpstreamResult>;
  /** The destination's endpoints in the order to try them (upgrades dial their own connection). */
  endpoints(dest: Destination, clientIp: string, headers: OutgoingHttpHeaders): UpstreamTarget[];
  close(): void;
}

export function createUpstreams(components: UpstreamComponents): Upstreams {
  const balancers = new Map<string, Balancer>();
  const agents = new Map<string, Agent>();
  const failedAt = new Map<string, number>();
  const penalized = (id: string) => {
    const at = failedAt.get(id);
    if (at === undefined) return false;
    if (performance.now() - at < FAILURE_PENALTY_MS) return true;
    failedAt.delete(id);
    return false;
  };
  const agentFor = (id: string) => {
    let a = agents.get(id);
    if (!a) {
      a = new Agent({ keepAlive: true, maxFreeSockets: UPSTREAM_IDLE_SOCKETS, timeout: 60_000 });
      agents.set(id, a);
    }
    return a;
  };

  /** Endpoints of the destination in the balancer's order (first: the choice). */
  function candidates(dest: Destination, clientIp: string, headers: OutgoingHttpHeaders) {
    const svc = dest.service;
    const port = dest.port;
    if (!svc || !port) return [];
    const entry = components.catalog.lookup(svc.namespace, svc.name);
    if (!entry) return [];
    const byId = new Map<string, { host: string; port: number }>();
    const list = [];
    for (const ep of entry.endpoints) {
      if (!ep.ready || !ep.serving || ep.terminating) continue;
      const p = endpointPort(ep, port.name, port.protocol);
      const host = ep.addresses[0];
      if (!p || !host) continue;
      const id = ep.family === 'IPv6' ? `[${host}]:${p}` : `${host}:${p}`;
      byId.set(id, { host, port: p });
      const local = !ep.nodeName || ep.nodeName === components.nodeName;
      list.push({ id, locality: local ? ('local' as const) : ('lan' as const), penalized: penalized(id) });
    }
    const key = `${svc.namespace}/${svc.name}:${port.port}`;
    const policy = components.policyFor?.(svc.namespace, svc.name, port.port)?.policy;
    let b = balancers.get(key);
    if (!b) {
      b = createBalancer({ ...(policy ? { policy } : {}) }, components.random ? { random: components.random } : {});
      balancers.set(key, b);
    } else if (JSON.stringify(b.policy) !== JSON.stringify(policy ?? { simple: 'ROUND_ROBIN' })) {
      b.update({ ...(policy ? { policy } : {}) });
    }
    const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    return b
      .pick(list, clientIp, lower)
      .map((c) => ({ id: c.id, ...(byId.get(c.id) as { host: string; port: number }), balancer: b }));
  }

  function attempt(
    target: { id: string; host: string; port: number },
    req: UpstreamRequest,
    perTryMs: number | undefined,
  ): Promise<{ response: IncomingMessage } | { failure: Outcome & { failure: string } }> {
    return new Promise((resolve) => {
      const signal = perTryMs ? AbortSignal.any([req.signal, AbortSignal.timeout(perTryMs)]) : req.signal;
      let connected = false;
      const out = httpRequest({
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent: agentFor(target.id),
        signal,
        timeout: CONNECT_TIMEOUT_MS,
      });
      out.on('socket', (s) => {
        // Nagle would hold a request waiting for the previous ACK (delayed ACKs: tens of ms).
        s.setNoDelay(true);
        if (!s.connecting) connected = true;
        else s.once('connect', () => (connected = true));
      });
      out.once('timeout', () => {
        if (!connected) out.destroy(new Error('connect timeout'));
      });
      out.once('response', (response) => resolve({ response }));
      out.once('error', () => {
        const failure =
          signal.aborted && !req.signal.aborted ? 'per-try-timeout' : connected ? 'reset' : 'connect-failure';
        resolve({ failure: { failure } });
      });
      if (req.body) out.end(req.body);
      else if (req.source) req.source.pipe(out);
      else out.end();
    });
  }

  return {
    endpoints: (dest, clientIp, headers) =>
      candidates(dest, clientIp, headers).map((t) => ({
        id: t.id,
        host: t.host,
        port: t.port,
        failed: () => void failedAt.set(t.id, performance.now()),
      })),
    async exchange(route, dest, req) {
      const tried = candidates(dest, req.clientIp, req.headers);
      if (!tried.length) return { failure: 'no-endpoint', attempts: 0 };
      const canRetry = req.source === undefined;
      const max = 1 + (canRetry ? route.retry.attempts : 0);
      let last: UpstreamResult = { failure: 'connect-failure', attempts: 0 };
      for (let n = 0; n < max && !req.signal.aborted; n++) {
        if (n > 0) await sleep(backoffMs(n, components.random), req.signal);
        const target = tried[n % tried.length] as (typeof tried)[number];
        target.balancer.opened(target.id);
        const r = await attempt(target, req, route.retry.perTryTimeoutMs);
        if ('response' in r) {
          r.response.once('close', () => target.balancer.closed(target.id));
          const res = { response: r.response, upstream: target.id, attempts: n + 1 };
          if (n + 1 < max && retriable(route.retry, { status: r.response.statusCode ?? 0 })) {
            r.response.resume();
            last = res;
            continue;
          }
          return res;
        }
        target.balancer.closed(target.id);
        if (r.failure.failure === 'connect-failure') failedAt.set(target.id, performance.now());
        const kind =
          r.failure.failure === 'per-try-timeout' ? 'timeout' : (r.failure.failure as 'reset' | 'connect-failure');
        last = { failure: kind, upstream: target.id, attempts: n + 1 };
        if (!retriable(route.retry, r.failure)) break;
      }
      if (req.signal.aborted)
        return { failure: 'timeout', attempts: last.attempts, ...(last.upstream ? { upstream: last.upstream } : {}) };
      return last;
    },
    close() {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
