/**
 * The gateway's HTTP/1.1 listeners: each request is decided against the current routing table
 * (router.ts) and answered — 404 without a route, a redirect, a direct response, or the
 * destination's response through upstream.ts (503 when it points nowhere or no endpoint answers,
 * 504 on the route's timeout). One pino line per request. Malformed requests get 400 and
 * oversized heads 431 from Node's parser.
 */
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { Destination } from './actions.ts';
import { MAX_HEADER_BYTES, RETRY_BODY_MAX_BYTES } from './constants.ts';
import type { RequestView } from './matchers.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Headers } from './model.ts';
import { decide } from './router.ts';
import type { RoutingTable } from './routes.ts';
import { handleUpgrade } from './upgrade.ts';
import type { Upstreams } from './upstream.ts';

export interface ListenerComponents {
  table: () => RoutingTable;
  upstreams: Upstreams;
  metrics: GatewayMetrics;
  log: Logger;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** A server for Gateway port `port` (built, not listening). */
export function createListener(port: number, c: ListenerComponents): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false }, (req, res) => {
    handle(port, req, res, c).catch((err) => {
      c.log.error({ err }, 'request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, early: Buffer) => {
    handleUpgrade(port, req, socket, early, c).catch((err) => {
      c.log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
}

function applyHeaderOps(
  target: Record<string, string | string[] | number | undefined>,
  ops: NonNullable<Headers['request']> | undefined,
) {
  if (!ops) return;
  for (const [k, v] of Object.entries(ops.set ?? {})) target[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(ops.add ?? {})) {
    const key = k.toLowerCase();
    const prev = target[key];
    target[key] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [String(prev)]), v];
  }
  for (const k of ops.remove ?? []) delete target[k.toLowerCase()];
}

async function handle(port: number, req: IncomingMessage, res: ServerResponse, c: ListenerComponents) {
  const started = performance.now();
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(',') : v);
  const view: RequestView = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    scheme: 'http',
    authority: req.headers.host ?? '',
    headers,
  };
  const d = decide(c.table(), port, view);
  const line: Record<string, unknown> = {
    method: view.method,
    path: view.path,
    host: view.authority,
    port,
    client: req.socket.remoteAddress,
  };
  const finish = (code: number, extra: Record<string, unknown> = {}) => {
    const route = d.kind === 'not-found' ? 'none' : d.route.id;
    const seconds = (performance.now() - started) / 1000;
    c.metrics.request(route, code, seconds);
    c.log.info({ ...line, route, status: code, ms: Math.round(seconds * 10_000) / 10, ...extra }, 'request');
  };
  if (d.kind === 'not-found') {
    res.writeHead(404, { 'content-length': 0 }).end();
    return finish(404);
  }
  if (d.kind === 'direct') {
    res
      .writeHead(d.status, { 'content-length': Buffer.byteLength(d.body ?? ''), 'content-type': 'text/plain' })
      .end(d.body ?? '');
    return finish(d.status);
  }
  if (d.kind === 'redirect') {
    res.writeHead(d.status, { location: d.location, 'content-length': 0 }).end();
    return finish(d.status, { location: d.location });
  }
  const dest: Destination = d.destination;
  const fail = (code: number, reason: string, text: string, extra: Record<string, unknown> = {}) => {
    c.metrics.upstreamError(d.route.id, reason);
    if (!res.headersSent)
      res.writeHead(code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }).end(text);
    finish(code, { service: dest.host, reason, ...extra });
  };
  if (!dest.service) return fail(503, 'no-service', 'no healthy upstream');

  const out: Record<string, string | string[] | number | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
  out.host = d.authority;
  const xff = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = xff ? `${xff}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
  out['x-forwarded-proto'] = 'http';
  applyHeaderOps(out, d.route.headers?.request);
  applyHeaderOps(out, dest.headers?.request);

  // The route's timeout covers the whole exchange; the client leaving ends it too.
  // Only a client gone before the response ended aborts: aborting a finished exchange would
  // destroy the upstream socket before it returns to the keep-alive pool.
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  const signal = d.route.timeoutMs ? AbortSignal.any([ac.signal, AbortSignal.timeout(d.route.timeoutMs)]) : ac.signal;
  const length = Number(req.headers['content-length'] ?? 0);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  let body: Buffer | undefined;
  if (!chunked && length <= RETRY_BODY_MAX_BYTES) body = length ? await readBody(req) : undefined;
  const r = await c.upstreams.exchange(d.route, dest, {
    method: view.method,
    path: d.path,
    headers: out as OutgoingHttpHeaders,
    ...(body ? { body } : {}),
    ...(!chunked && length <= RETRY_BODY_MAX_BYTES ? {} : { source: req }),
    clientIp: req.socket.remoteAddress ?? '',
    signal,
  });
  const extra = {
    service: `${dest.service.namespace}/${dest.service.name}`,
    upstream: r.upstream,
    attempts: r.attempts,
  };
  if (!r.response) {
    if (r.failure === 'timeout') return fail(504, 'timeout', 'upstream request timeout', extra);
    if (r.failure === 'no-endpoint') return fail(503, 'no-endpoint', 'no healthy upstream', extra);
    return fail(503, r.failure ?? 'reset', 'upstream connect error or disconnect/reset before headers', extra);
  }
  const up = r.response;
  const back: Record<string, string | string[] | number | undefined> = {};
  for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k)) back[k] = v;
  applyHeaderOps(back, d.route.headers?.response);
  applyHeaderOps(back, dest.headers?.response);
  res.writeHead(up.statusCode ?? 502, back as OutgoingHttpHeaders);
  finish(up.statusCode ?? 502, extra);
  up.pipe(res);
  up.once('error', () => res.destroy());
  signal.addEventListener('abort', () => up.destroy(), { once: true });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
