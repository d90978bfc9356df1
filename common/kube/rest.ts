import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { FedmeshError } from '../errors.ts';
import { type ClusterAccess, headerSource, toAccess } from './access.ts';

/** A response from the API server other than 2xx, with the Status object's reason. */
export class KubeApiError extends FedmeshError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message, 'ERR_KUBE_API');
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export interface RequestInit {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Default `application/json`; patches pass their patch type. */
  contentType?: string;
  /** Aborts the request (deadlines: `AbortSignal.any([signal, AbortSignal.timeout(ms)])`). */
  signal?: AbortSignal;
  /**
   * Asked in the same tick as the request's bytes are handed to an established connection; throws
   * to refuse, and then nothing is sent. Fenced writes pass their guard here: a request that waited
   * for a new connection's TLS handshake may get to send long after the guard last said yes (a
   * process paused meanwhile resumes in the middle of that handshake).
   */
  beforeSend?: () => void;
  /** Default `application/json` (the JWKS document wants `application/jwk-set+json`). */
  accept?: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/**
 * A small REST client over a KubeConfig with what the Lease elector needs and client-node's
 * generated API lacks: a per-request AbortSignal (deadlines measured by us), and a watch stream
 * that is an async iterable ended by the same signal.
 */
export interface KubeRest {
  readonly server: string;
  request<T>(method: string, path: string, init?: RequestInit): Promise<T>;
  /** Streams watch events until the server closes the stream or `signal` aborts. */
  watch<T>(
    path: string,
    init: { query?: RequestInit['query']; signal: AbortSignal; onOpen?: () => void },
  ): AsyncIterable<WatchEvent<T>>;
  close(): void;
}

function url(server: string, path: string, query?: RequestInit['query']): URL {
  const u = new URL(server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
  return u;
}

export async function createKubeRest(source: KubeConfig | ClusterAccess): Promise<KubeRest> {
  const access = await toAccess(source);
  const server = access.server;
  if (!server) throw new FedmeshError('kubeconfig has no current cluster', 'ERR_CONFIG');
  // One keep-alive pool: renewals every few hundred ms should not pay a TLS handshake each.
  const agent = new Agent({
    keepAlive: true,
    ca: access.ca,
    cert: access.cert,
    key: access.key,
    rejectUnauthorized: access.rejectUnauthorized,
    servername: access.servername,
  });
  const authHeaders = headerSource(access);

  function send(method: string, path: string, init: RequestInit, accept: string) {
    const u = url(server, path, init.query);
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    return new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(u, {
        method,
        agent,
        auth: access.auth,
        signal: init.signal,
        headers: {
          ...authHeaders(),
          accept,
          ...(body === undefined
            ? {}
            : { 'content-type': init.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      });
      req.once('response', resolve);
      req.once('error', reject);
      const check = init.beforeSend;
      if (!check) {
        req.end(body);
        return;
      }
      // Nothing is written before end(): the headers and body leave together, after the check.
      req.once('socket', (socket) => {
        const go = () => {
          try {
            check();
          } catch (err) {
            req.destroy(err as Error);
            return;
          }
          req.end(body);
        };
        const tls = socket as import('node:tls').TLSSocket & { _secureEstablished?: boolean };
        if (socket.connecting || (tls.encrypted && tls._secureEstablished === false)) {
          socket.once(tls.encrypted ? 'secureConnect' : 'connect', go);
        } else go();
      });
    });
  }

  async function readAll(res: import('node:http').IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function toError(status: number, text: string): KubeApiError {
    let reason = 'Unknown';
    let message = text.slice(0, 500);
    try {
      const st = JSON.parse(text) as { reason?: string; message?: string };
      reason = st.reason ?? reason;
      message = st.message ?? message;
    } catch {
      // Not a Status object (a proxy's error page): keep the raw text.
    }
    return new KubeApiError(status, reason, `${status} ${reason}: ${message}`);
  }

  return {
    server,
    async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
      const res = await send(method, path, init, init.accept ?? 'application/json');
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw toError(status, text);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async *watch<T>(path: string, init: { query?: RequestInit['query']; signal: AbortSignal; onOpen?: () => void }) {
      const res = await send(
        'GET',
        path,
        { query: { ...init.query, watch: true }, signal: init.signal },
        'application/json',
      );
      const status = res.statusCode ?? 0;
      if (status !== 200) throw toError(status, await readAll(res));
      init.onOpen?.();
      const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const line of lines) {
          if (line.trim() === '') continue;
          yield JSON.parse(line) as WatchEvent<T>;
        }
      } finally {
        res.destroy();
      }
    },
    close() {
      agent.destroy();
    },
  };
}

/** True when `err` is an API error with this HTTP status. */
export function isStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}
