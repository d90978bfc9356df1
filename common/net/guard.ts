/**
 * Limits every fedmesh listener applies before any protocol code runs: connections open at once in
 * total and per remote address, and a handshake deadline from TCP accept until the protocol says
 * the connection is past its handshake (an HTTP request started, a WebSocket upgrade answered). A
 * connection that sends nothing, or trickles its header lines, is destroyed at the deadline; a
 * socket error on any connection is counted, never thrown. All of it is reported in metrics.
 */
import { isIP, type Server, type Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Counter, Gauge, Registry } from '../metrics.ts';

export interface ListenerLimits {
  /** Connections open at once; further ones are closed at accept. */
  maxConnections: number;
  /** Connections open at once from one remote address (edge sites behind one NAT share an address). */
  maxConnectionsPerSource: number;
  /** Milliseconds from accept until the handshake must be done, else the socket is destroyed. */
  handshakeTimeoutMs: number;
  /**
   * Remote addresses that count only toward `maxConnections`: a local proxy in front of the
   * listener (the GM pod's mesh sidecar brings every tunnelled LC from 127.0.0.1). Default none.
   */
  perSourceExempt?: readonly string[];
}

export interface ListenerGuard {
  /** The connection passed its handshake: its deadline no longer applies. Unknown sockets are ignored. */
  settle(socket: Socket): void;
  /** Connections open now. */
  open(): number;
}

interface ListenerMetrics {
  connections: Gauge;
  refused: Counter;
  timeouts: Counter;
  errors: Counter;
}

// One family per registry, labelled by listener: a GM has two listeners on one registry.
const families = new WeakMap<Registry, ListenerMetrics>();

function metricsOf(registry: Registry): ListenerMetrics {
  let m = families.get(registry);
  if (!m) {
    m = {
      connections: registry.gauge('fedmesh_listener_connections', 'TCP connections open, by listener.'),
      refused: registry.counter(
        'fedmesh_listener_refused_total',
        'Connections closed at accept by a limit, by listener and reason (total, per-source).',
      ),
      timeouts: registry.counter(
        'fedmesh_listener_handshake_timeouts_total',
        'Connections destroyed because their handshake did not complete in time, by listener.',
      ),
      errors: registry.counter('fedmesh_listener_socket_errors_total', 'Socket errors on accepted connections.'),
    };
    families.set(registry, m);
  }
  return m;
}

export function validateLimits(l: ListenerLimits): ListenerLimits {
  const { perSourceExempt, ...numbers } = l;
  for (const [k, v] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`listener limit ${k} must be a positive integer`);
  }
  for (const a of perSourceExempt ?? []) {
    if (isIP(a) === 0)
      throw new ConfigError(`listener limit perSourceExempt: ${JSON.stringify(a)} is not an IP address`);
  }
  return l;
}

/** An IPv4 peer on a dual-stack listener is reported as `::ffff:a.b.c.d`; compare the IPv4 form. */
const plainAddress = (a: string): string => (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

/**
 * Applies `limits` to `server` (call before listen). `name` labels the metrics (`hub`, `http`...).
 * The caller calls `settle` once a connection is past its handshake.
 */
export function guardListener(
  server: Server,
  name: string,
  limits: ListenerLimits,
  components: { registry: Registry; log: Logger },
): ListenerGuard {
  validateLimits(limits);
  const m = metricsOf(components.registry);
  const labels = Object.freeze({ listener: name });
  const refusedTotal = Object.freeze({ listener: name, reason: 'total' });
  const refusedSource = Object.freeze({ listener: name, reason: 'per-source' });
  const perSource = new Map<string, number>();
  const exempt = new Set((limits.perSourceExempt ?? []).map(plainAddress));
  const deadlines = new Map<Socket, NodeJS.Timeout>();
  let open = 0;
  let warnedAt = 0;
  m.connections.set(0, labels);

  // At most one line a second, so a flood costs the log nothing.
  const warn = (reason: string, source: string) => {
    const now = performance.now();
    if (now - warnedAt < 1000) return;
    warnedAt = now;
    components.log.warn({ listener: name, reason, source }, 'connection refused by a listener limit');
  };

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => m.errors.inc(1, labels));
    const source = socket.remoteAddress ?? '?';
    const fromSource = perSource.get(source) ?? 0;
    const sourceFull = fromSource >= limits.maxConnectionsPerSource && !exempt.has(plainAddress(source));
    if (open >= limits.maxConnections || sourceFull) {
      const total = open >= limits.maxConnections;
      m.refused.inc(1, total ? refusedTotal : refusedSource);
      warn(total ? 'total' : 'per-source', source);
      socket.destroy();
      return;
    }
    open++;
    perSource.set(source, fromSource + 1);
    m.connections.set(open, labels);
    const timer = setTimeout(() => {
      deadlines.delete(socket);
      m.timeouts.inc(1, labels);
      socket.destroy();
    }, limits.handshakeTimeoutMs);
    timer.unref();
    deadlines.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(deadlines.get(socket));
      deadlines.delete(socket);
      open--;
      const n = (perSource.get(source) ?? 1) - 1;
      if (n > 0) perSource.set(source, n);
      else perSource.delete(source);
      m.connections.set(open, labels);
    });
  });

  return {
    settle(socket) {
      const timer = deadlines.get(socket);
      if (timer === undefined) return;
      clearTimeout(timer);
      deadlines.delete(socket);
    },
    open: () => open,
  };
}

/**
 * Guards an HTTP server (fastify's `app.server`): the handshake ends when the first request's
 * headers are parsed; after that Node's own header, request and keep-alive timeouts apply, with
 * the header timeout set to the same deadline.
 */
export function guardHttpServer(
  server: import('node:http').Server,
  name: string,
  limits: ListenerLimits,
  components: { registry: Registry; log: Logger },
): ListenerGuard {
  const guard = guardListener(server, name, limits, components);
  server.headersTimeout = Math.min(server.headersTimeout || limits.handshakeTimeoutMs, limits.handshakeTimeoutMs);
  server.on('request', (req: import('node:http').IncomingMessage) => guard.settle(req.socket));
  return guard;
}

/**
 * Limits of the HTTP listeners (health, readiness, metrics, the LC worker API): scrapers, probes and
 * a node's workers need a few connections each; 1 024 in all and 256 from one address leave room
 * for them while a flood from one host cannot take the process's file descriptors.
 */
export const DEFAULT_HTTP_LIMITS: ListenerLimits = {
  maxConnections: 1024,
  maxConnectionsPerSource: 256,
  handshakeTimeoutMs: 10_000,
};
