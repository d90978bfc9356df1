/**
 * HTTP/1.1 upgrades (WebSocket) through the gateway: the request is routed like any other (the
 * same matches, rewrite and destination), the upgrade request goes to one endpoint on its own
 * connection, and once the endpoint answers 101 the two sockets are spliced. An endpoint that
 * answers otherwise has its response relayed; a connect failure tries the next endpoint.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/log.ts';
import { CONNECT_TIMEOUT_MS } from './constants.ts';
import type { GatewayMetrics } from './metrics.ts';
import { decide } from './router.ts';
import type { RoutingTable } from './routes.ts';
import type { Upstreams } from './upstream.ts';

export interface UpgradeComponents {
  table: () => RoutingTable;
  upstreams: Pick<Upstreams, 'endpoints'>;
  metrics: GatewayMetrics;
  log: Logger;
}

const refuse = (socket: Duplex, status: string) => {
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
};

const head = (res: IncomingMessage) => {
  const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`];
  for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
};

export async function handleUpgrade(
  port: number,
  req: IncomingMessage,
  socket: Duplex,
  early: Buffer,
  c: UpgradeComponents,
) {
  const started = performance.now();
  socket.on('error', () => socket.destroy());
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(',') : v);
  const d = decide(c.table(), port, {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    scheme: 'http',
    authority: req.headers.host ?? '',
    headers,
  });
  const route = d.kind === 'not-found' ? 'none' : d.route.id;
  const done = (status: number, extra: Record<string, unknown> = {}) => {
    c.metrics.request(route, status, (performance.now() - started) / 1000);
    c.log.info(
      {
        method: req.method,
        path: req.url,
        host: req.headers.host,
        port,
        route,
        status,
        upgrade: req.headers.upgrade,
        ...extra,
      },
      'request',
    );
  };
  if (d.kind !== 'forward') {
    refuse(socket, d.kind === 'not-found' ? '404 Not Found' : '400 Bad Request');
    return done(d.kind === 'not-found' ? 404 : 400);
  }
  const targets = d.destination.service
    ? c.upstreams.endpoints(d.destination, req.socket.remoteAddress ?? '', req.headers)
    : [];
  const out: Record<string, string | string[] | undefined> = { ...req.headers, host: d.authority };
  for (const t of targets) {
    const r = await new Promise<{ res: IncomingMessage; up?: Duplex; upHead?: Buffer } | undefined>((resolve) => {
      const o = httpRequest({
        host: t.host,
        port: t.port,
        method: req.method,
        path: d.path,
        headers: out,
        agent: false,
        timeout: CONNECT_TIMEOUT_MS,
      });
      o.once('socket', (s) => s.once('connect', () => o.setTimeout(0)));
      o.once('timeout', () => o.destroy());
      o.once('upgrade', (res, up, upHead) => resolve({ res, up, upHead }));
      o.once('response', (res) => resolve({ res }));
      o.once('error', () => resolve(undefined));
      o.end();
    });
    if (!r) {
      t.failed();
      continue;
    }
    socket.write(head(r.res));
    if (!r.up) {
      r.res.pipe(socket);
      return done(r.res.statusCode ?? 502, { upstream: t.id });
    }
    if (r.upHead?.length) socket.write(r.upHead);
    if (early.length) r.up.write(early);
    r.up.pipe(socket).on('error', () => r.up?.destroy());
    socket.pipe(r.up);
    r.up.on('error', () => socket.destroy());
    socket.once('close', () => r.up?.destroy());
    r.up.once('close', () => socket.destroy());
    return done(101, { upstream: t.id });
  }
  refuse(socket, '503 Service Unavailable');
  c.metrics.upstreamError(route, targets.length ? 'connect-failure' : 'no-endpoint');
  done(503);
}
