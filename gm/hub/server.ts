/**
 * The hub's wiring: the WebSocket endpoint (any path, both dialects), authentication at upgrade,
 * one session per node, the route listener that feeds sessions, heartbeats and stream expiry.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { sleep } from '../../common/async.ts';
import { guardListener } from '../../common/net/guard.ts';
import { createRouter } from '../../common/sedna/router.ts';
import { CLOSE, type CloseSpec, FEDMESH_SUBPROTOCOL } from '../../common/wire/index.ts';
import { type Confirmation, createAuthenticator } from './auth.ts';
import { createObjectCache } from './cache.ts';
import {
  CONNECTION_LEASE_DURATION_S,
  CONNECTION_LEASE_RENEW_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_HUB_LIMITS,
  DEFAULT_MAX_FRAME_BYTES,
  JWKS_REFRESH_MS,
  LISTEN_BACKLOG,
  NODE_NAME_HEADER,
  STREAM_RESUME_TTL_MS,
  TOKEN_AUDIENCE,
} from './constants.ts';
import { createFedmeshSession } from './fedmesh-session.ts';
import type { Hub, HubComponents, HubInit } from './index.ts';
import { createTokenVerifier } from './jwt.ts';
import { createHubMetrics } from './metrics.ts';
import { createConnectionRegistry } from './registry.ts';
import { createSednaSession } from './sedna-session.ts';
import { closeLabels, closeSocket, type Session, type SessionContext } from './session.ts';
import type { Stream } from './stream.ts';
import { createReportApplier } from './upstream.ts';

export function createHub(init: HubInit, components: HubComponents): Hub {
  const { rest, registry } = components;
  const log = components.log.child({ component: 'gm.hub' });
  const cache = createObjectCache({ rest, log });
  const metrics = createHubMetrics(registry, () => cache.synced());
  const router = createRouter(cache);
  cache.onChange((kind, ns, name, obj) => router.update(kind, ns, name, obj));
  const applier = createReportApplier({ rest, cache, router, log, metrics });
  const verifier = createTokenVerifier({
    audience: TOKEN_AUDIENCE,
    fetchJson: (path, accept, signal) => rest.request('GET', path, { accept, signal }),
  });
  const auth = createAuthenticator(
    {
      lcNamespace: init.lcNamespace ?? init.namespace,
      lcServiceAccount: init.lcServiceAccount ?? 'lc',
      allowUnauthenticatedSedna: init.allowUnauthenticatedSedna ?? false,
    },
    { rest, log, metrics, verifier },
  );
  const connReg = createConnectionRegistry(
    {
      namespace: init.namespace,
      replicaId: init.replicaId,
      renewMs: init.connectionLeaseRenewMs ?? CONNECTION_LEASE_RENEW_MS,
      durationS: CONNECTION_LEASE_DURATION_S,
    },
    { rest, log, metrics },
  );
  const maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const limits = { ...DEFAULT_HUB_LIMITS, ...init.limits };
  const sessions = new Map<string, Session>();
  const streams = new Map<string, Stream>();
  const dialectCount = { sedna: 0, fedmesh: 0 };
  // Sessions whose node a token proved: a connection that only claims its node never displaces them.
  const proven = new WeakSet<Session>();
  let bound: { host: string; port: number } | undefined;
  let refusalLoggedAt = Number.NEGATIVE_INFINITY;
  let refusalsSuppressed = 0;

  router.onChange((node, key) => {
    const s = sessions.get(node);
    if (s) s.notify(key);
    else streams.get(node)?.feed.markDirty(key);
  });

  function register(session: Session, strong: boolean) {
    const { node, dialect } = session;
    const previous = sessions.get(node);
    if (previous) previous.close(CLOSE.REPLACED);
    sessions.set(node, session);
    if (strong) proven.add(session);
    dialectCount[dialect]++;
    metrics.connections.set(dialectCount[dialect], { dialect });
    metrics.nodeConnected.set(1, { node, dialect });
    const release = connReg.hold(node, session.since, strong, () =>
      session.close(CLOSE.REPLACED, 'node connected elsewhere'),
    );
    log.info({ node, dialect }, 'lc connected');
    void session.closed.then(() => {
      dialectCount[dialect]--;
      metrics.connections.set(dialectCount[dialect], { dialect });
      if (sessions.get(node) === session) {
        sessions.delete(node);
        release();
      }
      // Dropped, not zeroed: a series per node name ever seen would grow without bound.
      if (sessions.get(node)?.dialect !== dialect) metrics.nodeConnected.remove({ node, dialect });
      log.info({ node, dialect }, 'lc disconnected');
    });
  }

  /** Keeps the token verifier's keys current; without them every token goes to TokenReview. */
  async function keys(signal: AbortSignal) {
    while (verifier && !signal.aborted) {
      const ok = await verifier.refresh(signal);
      if (!ok && !signal.aborted) log.info('no ServiceAccount signing keys: every LC token goes to TokenReview');
      await sleep(ok ? JWKS_REFRESH_MS : 30_000, signal);
    }
  }

  return {
    checks: [
      { name: 'hub-cache', failure: () => (cache.synced() ? undefined : 'Sedna objects not listed yet') },
      { name: 'hub-listen', failure: () => (bound ? undefined : 'LC endpoint not listening') },
    ],
    address: () => bound,
    connections: () => [...sessions.values()].map((s) => ({ node: s.node, dialect: s.dialect, since: s.since })),
    async start(signal) {
      const ctx: SessionContext = {
        replicaId: init.replicaId,
        router,
        cache,
        applier,
        metrics,
        log,
        maxFrameBytes,
        heartbeatIntervalMs: init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
        heartbeatTimeoutMs: init.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
        helloTimeoutMs: init.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
        signal,
      };
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: maxFrameBytes,
        perMessageDeflate: false,
        // Offered fedmesh.v1 → select it; anything else (stock Sedna offers nothing) → Sedna v1.
        handleProtocols: (protocols) => (protocols.has(FEDMESH_SUBPROTOCOL) ? FEDMESH_SUBPROTOCOL : false),
      });
      const server = createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
      });
      const guard = guardListener(server, 'hub', limits, { registry: components.registry, log });
      server.on('request', (req: IncomingMessage) => guard.settle(req.socket));
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        void onUpgrade(req, socket, head);
      });

      async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
        const offered = String(req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim());
        const dialect = offered.includes(FEDMESH_SUBPROTOCOL) ? 'fedmesh' : 'sedna';
        const authz = req.headers.authorization;
        const token = authz?.startsWith('Bearer ') ? authz.slice(7).trim() : undefined;
        const nodeHeader = req.headers[NODE_NAME_HEADER];
        const result = cache.synced()
          ? await auth.authenticate({
              dialect,
              token: token || undefined,
              nodeHeader: typeof nodeHeader === 'string' ? nodeHeader : undefined,
              signal,
            })
          : ({ ok: false, close: CLOSE.NOT_READY, reason: 'caches not synced', metric: 'not-ready' } as const);
        if (signal.aborted || socket.destroyed) {
          socket.destroy();
          return;
        }
        // Past its handshake either way: a refused socket gets its close frame and 2 s to go.
        guard.settle(req.socket);
        if (result.ok)
          wss.handleUpgrade(req, socket, head, (ws) =>
            accept(ws, dialect, result.node, result.confirmation, result.proven),
          );
        else wss.handleUpgrade(req, socket, head, (ws) => refuse(ws, dialect, result));
      }

      // Kept apart from onUpgrade so a session's closures do not hold the upgrade request (headers, token).
      function accept(
        ws: WebSocket,
        dialect: 'sedna' | 'fedmesh',
        node: string,
        confirmation: Confirmation,
        strong: boolean,
      ) {
        const current = sessions.get(node);
        if (!strong && ((current && proven.has(current)) || connReg.heldStronglyElsewhere(node))) {
          refuse(ws, dialect, {
            close: CLOSE.FORBIDDEN,
            reason: 'node is served to an authenticated LC',
            metric: 'node-held',
          });
          return;
        }
        ws.on('close', (code) => metrics.closes.inc(1, closeLabels(code)));
        const session =
          dialect === 'fedmesh'
            ? createFedmeshSession(ws, node, ctx, streams, confirmation)
            : createSednaSession(ws, node, ctx, confirmation);
        register(session, strong);
      }

      function refuse(ws: WebSocket, dialect: string, r: { close: CloseSpec; reason: string; metric: string }) {
        // Frames a refused peer still sends (an invalid opcode, an oversized header) end in an 'error'
        // event: without a listener it would end the process.
        ws.on('error', () => {});
        ws.on('message', () => {});
        metrics.refusals.inc(1, { reason: r.metric });
        // One line a second at most: a storm of hostile upgrades must not become a storm of log lines.
        const now = performance.now();
        if (now - refusalLoggedAt >= 1000) {
          log.info({ dialect, reason: r.reason, suppressed: refusalsSuppressed }, 'lc refused');
          refusalLoggedAt = now;
          refusalsSuppressed = 0;
        } else refusalsSuppressed++;
        closeSocket(ws, r.close, r.reason);
      }

      const sweeper = setInterval(() => {
        const now = performance.now();
        for (const s of sessions.values()) s.sweep(now);
        for (const [node, st] of streams) {
          if (st.detachedAt !== undefined && now - st.detachedAt > STREAM_RESUME_TTL_MS && !sessions.has(node)) {
            streams.delete(node);
          }
        }
      }, 1000);

      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: init.listen.port, host: init.listen.host, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address();
      if (addr && typeof addr === 'object') bound = { host: addr.address, port: addr.port };
      log.info({ address: bound, maxFrameBytes }, 'hub listening');

      const background = Promise.all([cache.start(signal), connReg.start(signal), keys(signal)]);
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
      );
      clearInterval(sweeper);
      for (const s of sessions.values()) s.close(CLOSE.GOING_AWAY);
      // Give LCs a moment to complete the close handshake (they reconnect elsewhere at once on 1001).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...sessions.values()].map((s) => s.closed)),
        new Promise((r) => {
          timer = setTimeout(r, 2000);
        }),
      ]);
      clearTimeout(timer);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      bound = undefined;
      await background;
    },
  };
}
