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
  /** The plan for a new connection from `sourceIp`, or undefined when the Service port is gone. */
  plan(sourceIp: string): Plan | undefined;
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
    const source = sock.remoteAddress ?? '';
    const plan = deps.plan(source);
    if (!plan?.targets.length) {
      deps.metrics.error(plan?.service ?? 'unknown', 'no-endpoint');
      // A refused connection (RST), as kube-proxy's REJECT for a Service without endpoints.
      sock.resetAndDestroy();
      return;
    }
    const gone = new AbortController();
    sock.once('close', () => gone.abort(new Error('client closed')));
    connectPlan(plan, source, deps, gone.signal, (t, signal) => dialTcp(t, deps.mesh, signal))
      .then(({ stream, path, target }) => {
        if (sock.destroyed) {
          stream.destroy();
          return;
        }
        guard.settle(sock);
        plan.balancer.opened(target.id);
        deps.metrics.connection(plan.service, 'tcp', path);
        deps.metrics.active(1);
        sock.pipe(stream);
        stream.pipe(sock);
        sock.on('error', (err) => stream.destroy(err));
        stream.on('error', () => sock.resetAndDestroy());
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          plan.balancer.closed(target.id);
          deps.metrics.active(-1);
          deps.metrics.bytes(plan.service, 'out', sock.bytesRead);
          deps.metrics.bytes(plan.service, 'in', sock.bytesWritten);
        };
        sock.once('close', finish);
        sock.resume();
      })
      .catch((err: Error) => {
        deps.metrics.error(plan.service, 'unreachable');
        deps.log.warn({ service: plan.service, err: err.message }, 'proxied connection failed');
        if (!sock.destroyed) sock.resetAndDestroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return server;
}
