/**
 * The TCP side: one loopback listener per ClusterIP:port. Each accepted connection is planned
 * afresh (the catalog now, so an endpoint gone from its slice gets nothing new), tried on up to
 * MAX_ATTEMPTS endpoints in the balancer's order, then spliced byte for byte: HTTP/1.1 keep-alive,
 * h2c and gRPC, WebSocket and TLS all pass as opaque TCP. Half-closes and resets propagate.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/log.ts';
import { createRegistry, type Registry } from '../../common/metrics.ts';
import { guardListener, type ListenerLimits } from '../../common/net/guard.ts';
import { MAX_ATTEMPTS, OPEN_TIMEOUT_MS } from './constants.ts';
import { addSetCookie, cookieOf, cookieToken, readRequestHead } from './http.ts';
import type { Balancer } from './lb.ts';
import type { ProxyMetrics, ProxyPath } from './metrics.ts';
import { dialTcp, type ProxyMesh, type Target } from './route.ts';

/** One connection's plan: the Service and its endpoints in the order to try. */
export interface Plan {
  service: string;
  targets: Target[];
  balancer: Balancer;
}

export interface PortDeps {
  /**
   * The plan for a new connection from `sourceIp` (with its first HTTP request's headers, for the
   * header and cookie hashes), or undefined when the Service port is gone.
   */
  plan(sourceIp: string, headers?: Map<string, string>): Plan | undefined;
  mesh: ProxyMesh;
  metrics: ProxyMetrics;
  /** An attempt on the endpoint failed. */
  penalize(id: string): void;
  log: Logger;
}

/** Tries the plan's targets in order; resolves with the first stream opened. */
export async function connectPlan(
  plan: Plan,
  sourceIp: string,
  deps: PortDeps,
  signal: AbortSignal,
  dial: (t: Target, signal: AbortSignal) => Promise<{ stream: Duplex; path: ProxyPath }>,
): Promise<{ stream: Duplex; path: ProxyPath; target: Target }> {
  let last: Error | undefined;
  for (const target of plan.targets.slice(0, MAX_ATTEMPTS)) {
    try {
      const opened = await dial(target, AbortSignal.any([signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]));
      plan.balancer.used(sourceIp, target.id);
      return { ...opened, target };
    } catch (err) {
      if (signal.aborted) throw err;
      last = err as Error;
      deps.penalize(target.id);
      deps.metrics.error(plan.service, 'endpoint-failed');
      deps.log.info(
        { service: plan.service, endpoint: target.id, node: target.node, err: last.message },
        'endpoint attempt failed',
      );
    }
  }
  throw last ?? new Error('no endpoint');
}

export async function startTcpPort(
  listen: { host: string; label: string },
  deps: PortDeps,
  limits: ListenerLimits,
  registry: Registry | undefined,
): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  const guard = guardListener(server, listen.label, limits, { registry: registry ?? createRegistry(), log: deps.log });
  server.on('connection', (sock: Socket) => {
    if (sock.destroyed) return; // refused by the guard
    sock.pause();
    void handle(sock).catch((err: Error) => {
      deps.log.warn({ err: err.message }, 'proxied connection failed');
      if (!sock.destroyed) sock.resetAndDestroy();
    });
  });
  const handle = async (sock: Socket) => {
    const source = sock.remoteAddress ?? '';
    let plan = deps.plan(source);
    const hash = plan && 'consistentHash' in plan.balancer.policy ? plan.balancer.policy.consistentHash : undefined;
    let setCookie: string | undefined;
    if (plan?.targets.length && hash && !('useSourceIp' in hash)) {
      // Header or cookie hash: the first request head decides (http.ts), then goes on unchanged.
      const { buffered, headers } = await readRequestHead(sock);
      if (buffered.length) sock.unshift(buffered);
      if (sock.destroyed) return;
      plan = deps.plan(source, headers);
      if (headers && 'httpCookie' in hash && cookieOf(headers, hash.httpCookie.name) === undefined) {
        const c = hash.httpCookie;
        setCookie = `${c.name}=%s; Path=${c.path ?? '/'}; HttpOnly${c.ttlS ? `; Max-Age=${c.ttlS}` : ''}`;
      }
    }
    if (!plan?.targets.length) {
      deps.metrics.error(plan?.service ?? 'unknown', 'no-endpoint');
      // A refused connection (RST), as kube-proxy's REJECT for a Service without endpoints.
      sock.resetAndDestroy();
      return;
    }
    const gone = new AbortController();
    sock.once('close', () => gone.abort(new Error('client closed')));
    let opened: Awaited<ReturnType<typeof connectPlan>>;
    try {
      opened = await connectPlan(plan, source, deps, gone.signal, (t, signal) => dialTcp(t, deps.mesh, signal));
    } catch (err) {
      deps.metrics.error(plan.service, 'unreachable');
      throw err;
    }
    const { stream, path, target } = opened;
    if (sock.destroyed) {
      stream.destroy();
      return;
    }
    guard.settle(sock);
    plan.balancer.opened(target.id);
    deps.metrics.connection(plan.service, 'tcp', path);
    deps.metrics.active(1);
    sock.pipe(stream);
    if (setCookie) stream.pipe(addSetCookie(setCookie.replace('%s', cookieToken(target.id)))).pipe(sock);
    else stream.pipe(sock);
    sock.on('error', (err) => stream.destroy(err));
    stream.on('error', () => sock.resetAndDestroy());
    const service = plan.service;
    const balancer = plan.balancer;
    sock.once('close', () => {
      balancer.closed(target.id);
      deps.metrics.active(-1);
      deps.metrics.bytes(service, 'out', sock.bytesRead);
      deps.metrics.bytes(service, 'in', sock.bytesWritten);
    });
    sock.resume();
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return server;
}
