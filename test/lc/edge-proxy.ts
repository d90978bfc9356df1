/**
 * An edge API endpoint for the fallback integration tests: plain HTTP on loopback, as edgecore's
 * metaServer serves, forwarding every request to the real kube-apiserver (TLS, its CA) with the
 * caller's Authorization header. Switches make it misbehave the ways an edge endpoint can: ignore
 * label selectors (strip them), answer watches with 410 Gone (a storm), hold watches open and
 * silent, or refuse everything (the route is cut).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ControlPlane } from '../envtest/index.ts';

export interface EdgeProxy {
  url: string;
  mode: {
    /** Drop `labelSelector` from every query (an endpoint that does not honour selectors). */
    ignoreSelector?: boolean;
    /** Answer this many watch requests with 410 Gone before passing them on again. */
    goneWatches?: number;
    /** Watches get their headers and then nothing, ever. */
    silentWatches?: boolean;
    /** Every request fails with 503 (the route to the API server is down). */
    down?: boolean;
  };
  /** Watch requests seen, and those answered 410 / held silent. */
  counts: { watches: number; gone: number; silent: number; lists: number };
  /** Ends every open response (the watches) abruptly, as a restarted endpoint would. */
  cut(): void;
  close(): Promise<void>;
}

export async function startEdgeProxy(plane: ControlPlane): Promise<EdgeProxy> {
  const ca = readFileSync(join(plane.dir, 'ca.crt'));
  const upstream = new URL(plane.server);
  const mode: EdgeProxy['mode'] = {};
  const counts = { watches: 0, gone: 0, silent: 0, lists: 0 };
  const open = new Set<ServerResponse>();

  function handle(req: IncomingMessage, res: ServerResponse) {
    open.add(res);
    res.on('close', () => open.delete(res));
    const u = new URL(req.url ?? '/', 'http://edge');
    const watch = u.searchParams.get('watch') === 'true';
    if (mode.down) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 503, message: 'route down' }));
      return;
    }
    if (watch) counts.watches++;
    else if (req.method === 'GET') counts.lists++;
    if (watch && (mode.goneWatches ?? 0) > 0) {
      mode.goneWatches = (mode.goneWatches ?? 0) - 1;
      counts.gone++;
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
      return;
    }
    if (watch && mode.silentWatches) {
      counts.silent++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return; // never a byte more
    }
    if (mode.ignoreSelector) u.searchParams.delete('labelSelector');
    const out = httpsRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: u.pathname + u.search,
        method: req.method,
        ca,
        headers: { ...req.headers, host: upstream.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  }

  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mode,
    counts,
    cut() {
      for (const r of open) r.destroy();
    },
    async close() {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
