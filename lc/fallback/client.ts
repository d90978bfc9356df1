/**
 * A small Kubernetes API client for the edge API endpoint: http:// (metaServer, yurthub on
 * loopback) or https:// with a CA file or, only when asked, without verification; a bearer token
 * re-read from its file on every request (the kubelet rotates projected tokens). It counts every
 * byte and object received, and ends a watch that sends nothing for `idleMs`.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { MAX_RESPONSE_BYTES, MAX_WATCH_LINE_BYTES } from './constants.ts';
import { FallbackError } from './errors.ts';

/**
 * Sent on every request. yurthub caches responses per client component, the User-Agent up to its
 * first "/", and only for components named in its `cache_agents`: `fedmesh-lc` is the name to add.
 * Without a User-Agent (Node's default) yurthub caches nothing, so nothing is served offline.
 */
export const USER_AGENT = 'fedmesh-lc/1';

export interface EdgeApiClientInit {
  url: string;
  tokenFile?: string;
  caFile?: string;
  insecure?: boolean;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

export interface EdgeApiClient {
  readonly url: string;
  /** One request; the JSON answer, or FallbackError. */
  request<T>(method: string, path: string, init: { query?: Query; body?: unknown; signal: AbortSignal }): Promise<T>;
  /** A watch stream, event by event, until the server ends it, `signal` aborts or it idles (ERR_EDGE_API_IDLE). */
  watch(path: string, init: { query?: Query; signal: AbortSignal; idleMs: number }): AsyncIterable<WatchEvent>;
  close(): void;
}

export interface EdgeApiClientComponents {
  log: Logger;
  /** Told every chunk of bytes received (responses and watch streams). */
  received?(bytes: number): void;
}

export function createEdgeApiClient(init: EdgeApiClientInit, c: EdgeApiClientComponents): EdgeApiClient {
  let base: URL;
  try {
    base = new URL(init.url);
  } catch {
    throw new ConfigError(`--edge-api: invalid URL "${init.url}"`);
  }
  const https = base.protocol === 'https:';
  if (!https && base.protocol !== 'http:')
    throw new ConfigError(`--edge-api: "${init.url}" is not http:// or https://`);
  if (!https && (init.caFile !== undefined || init.insecure)) {
    throw new ConfigError('--edge-api-ca-file and --edge-api-insecure apply to an https:// endpoint only');
  }
  let ca: Buffer | undefined;
  if (init.caFile !== undefined) {
    try {
      ca = readFileSync(init.caFile);
    } catch (err) {
      throw new ConfigError(`--edge-api-ca-file: cannot read ${init.caFile}`, { cause: err });
    }
  }
  const agent = https
    ? new HttpsAgent({ keepAlive: true, ca, rejectUnauthorized: !init.insecure })
    : new HttpAgent({ keepAlive: true });
  let warnedToken = false;

  function token(): string | undefined {
    if (init.tokenFile === undefined) return undefined;
    try {
      return readFileSync(init.tokenFile, 'utf8').trim() || undefined;
    } catch (err) {
      if (!warnedToken)
        c.log.warn({ err, tokenFile: init.tokenFile }, 'edge api token file unreadable, no credentials');
      warnedToken = true;
      return undefined;
    }
  }

  function urlOf(path: string, query?: Query): URL {
    const u = new URL(base.pathname.replace(/\/$/, '') + path, base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  function send(method: string, u: URL, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    const t = token();
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(u, {
        method,
        agent,
        signal,
        headers: {
          accept: 'application/json',
          'user-agent': USER_AGENT,
          ...(t === undefined ? {} : { authorization: `Bearer ${t}` }),
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      });
      req.once('response', resolve);
      req.once('error', (err) => {
        if (signal.aborted) reject(err);
        else
          reject(
            new FallbackError('ERR_EDGE_API_UNREACHABLE', `${base.origin}: ${err.message}`, undefined, { cause: err }),
          );
      });
      req.end(body);
    });
  }

  async function readAll(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      c.received?.(chunk.length);
      if (n > MAX_RESPONSE_BYTES) {
        res.destroy();
        throw new FallbackError('ERR_EDGE_API_BAD_RESPONSE', `response over ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function failure(status: number, text: string, what: string): FallbackError {
    let detail = text.slice(0, 300);
    try {
      const st = JSON.parse(text) as { message?: unknown };
      if (typeof st.message === 'string') detail = st.message;
    } catch {
      // Not a Status object (a proxy's error page): keep the raw text.
    }
    const msg = `${what}: ${status} ${detail}`;
    if (status === 401 || status === 403) return new FallbackError('ERR_EDGE_API_AUTH', msg, status);
    if (status === 410) return new FallbackError('ERR_EDGE_API_GONE', msg, status);
    return new FallbackError('ERR_EDGE_API_HTTP', msg, status);
  }

  function parse<T>(text: string, what: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new FallbackError('ERR_EDGE_API_BAD_RESPONSE', `${what}: not JSON`, undefined, { cause: err });
    }
  }

  return {
    url: base.origin,
    async request<T>(method: string, path: string, r: { query?: Query; body?: unknown; signal: AbortSignal }) {
      const body = r.body === undefined ? undefined : JSON.stringify(r.body);
      const res = await send(method, urlOf(path, r.query), body, r.signal);
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw failure(status, text, `${method} ${path}`);
      return parse<T>(text, `${method} ${path}`);
    },
    async *watch(path: string, w: { query?: Query; signal: AbortSignal; idleMs: number }) {
      const stop = new AbortController();
      const signal = AbortSignal.any([w.signal, stop.signal]);
      let idle = false;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          idle = true;
          stop.abort();
        }, w.idleMs);
      };
      arm(); // the response headers must come within the idle time too
      try {
        let res: IncomingMessage;
        try {
          res = await send('GET', urlOf(path, { ...w.query, watch: true }), undefined, signal);
        } catch (err) {
          if (idle) throw new FallbackError('ERR_EDGE_API_IDLE', `watch ${path}: no response in ${w.idleMs} ms`);
          throw err;
        }
        const status = res.statusCode ?? 0;
        if (status !== 200) throw failure(status, await readAll(res), `watch ${path}`);
        let pending = '';
        try {
          for await (const chunk of res as AsyncIterable<Buffer>) {
            arm();
            c.received?.(chunk.length);
            pending += chunk.toString('utf8');
            let nl = pending.indexOf('\n');
            while (nl >= 0) {
              const line = pending.slice(0, nl).trim();
              pending = pending.slice(nl + 1);
              if (line !== '') yield parse<WatchEvent>(line, `watch ${path}`);
              nl = pending.indexOf('\n');
            }
            if (pending.length > MAX_WATCH_LINE_BYTES) {
              throw new FallbackError(
                'ERR_EDGE_API_BAD_RESPONSE',
                `watch ${path}: event over ${MAX_WATCH_LINE_BYTES} bytes`,
              );
            }
          }
        } catch (err) {
          if (idle) throw new FallbackError('ERR_EDGE_API_IDLE', `watch ${path}: nothing received for ${w.idleMs} ms`);
          if (w.signal.aborted || err instanceof FallbackError) throw err;
          throw new FallbackError('ERR_EDGE_API_UNREACHABLE', `watch ${path}: ${(err as Error).message}`, undefined, {
            cause: err,
          });
        } finally {
          res.destroy();
        }
        if (idle) throw new FallbackError('ERR_EDGE_API_IDLE', `watch ${path}: nothing received for ${w.idleMs} ms`);
        if (pending.trim() !== '') yield parse<WatchEvent>(pending.trim(), `watch ${path}`);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      agent.destroy();
    },
  };
}
