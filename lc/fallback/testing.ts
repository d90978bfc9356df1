/**
 * A scripted Kubernetes-API-speaking endpoint for the fallback's unit tests (the integration tests
 * use the real API server): Sedna objects in memory with etcd-like versions, list (label selector
 * by key existence, unless `ignoreSelector`), watch from a version with a history window (older:
 * 410), status PUT with optimistic concurrency, and switches to make it misbehave.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
} & Record<string, unknown>;

export interface FakeEdgeApi {
  url: string;
  /** Creates or replaces an object (a new version); returns it. */
  put(plural: string, ns: string, name: string, labels: Record<string, string>, extra?: Record<string, unknown>): Obj;
  delete(plural: string, ns: string, name: string): void;
  get(plural: string, ns: string, name: string): Obj | undefined;
  /** Forgets history: watches from older versions get 410 (as after etcd compaction). */
  compact(): void;
  /** Every request's method and path+query, in order. */
  requests: string[];
  /** User-Agent headers seen. */
  agents: Set<string>;
  opts: {
    ignoreSelector?: boolean;
    /** Answer every request with this status. */
    failWith?: number;
    /** Watches open but never send anything. */
    silentWatches?: boolean;
    /** Watches end at once, empty (an endpoint that does not really watch). */
    endWatches?: boolean;
    /** Status PUTs answered with this status. */
    statusWrites?: number;
    /** Status PUTs answered 200 with the object unchanged (yurthub offline answers from its cache). */
    cachedWrites?: boolean;
    /** Watch events of objects that no longer match the selector are not sent (metaServer's cloud side). */
    dropUnmatched?: boolean;
  };
  close(): Promise<void>;
}

export async function startFakeEdgeApi(): Promise<FakeEdgeApi> {
  let rv = 100;
  let oldest = 0; // watches from below this get 410
  const objects = new Map<string, Obj>(); // plural/ns/name
  const history: Array<{ plural: string; type: string; obj: Obj }> = [];
  const watchers = new Set<{ plural: string; selector?: string; res: ServerResponse }>();
  const requests: string[] = [];
  const agents = new Set<string>();
  const opts: FakeEdgeApi['opts'] = {};

  const matches = (o: Obj, selector?: string) =>
    opts.ignoreSelector || !selector || Object.hasOwn(o.metadata.labels ?? {}, selector);
  const emit = (plural: string, type: string, obj: Obj, was?: Obj) => {
    history.push({ plural, type, obj });
    for (const w of watchers) {
      // A selector-honouring API server turns a change that leaves the selector into DELETED.
      const left = !matches(obj, w.selector) && was !== undefined && matches(was, w.selector);
      if (w.plural !== plural || opts.silentWatches) continue;
      if (left && !opts.dropUnmatched) w.res.write(`${JSON.stringify({ type: 'DELETED', object: obj })}\n`);
      else if (matches(obj, w.selector)) {
        w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
      }
    }
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const statusBody = (code: number, reason: string) => ({ kind: 'Status', code, reason, message: reason });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${u.pathname}${u.search}`);
    agents.add(req.headers['user-agent'] ?? '');
    if (opts.failWith) return send(res, opts.failWith, statusBody(opts.failWith, 'Forbidden'));
    // /apis/sedna.io/v1alpha1[/namespaces/NS]/PLURAL[/NAME[/status]]
    const parts = u.pathname.split('/').slice(4);
    let ns: string | undefined;
    if (parts[0] === 'namespaces') {
      ns = parts[1];
      parts.splice(0, 2);
    }
    const [plural = '', name, sub] = parts;
    if (!plural) return send(res, 404, statusBody(404, 'NotFound'));
    const selector = u.searchParams.get('labelSelector') ?? undefined;
    if (name === undefined && u.searchParams.get('watch') === 'true') {
      const from = Number(u.searchParams.get('resourceVersion') ?? rv);
      if (from < oldest) return send(res, 410, statusBody(410, 'Expired'));
      if (opts.endWatches) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const w = { plural, selector, res };
      watchers.add(w);
      res.on('close', () => watchers.delete(w));
      if (!opts.silentWatches) {
        for (const h of history) {
          if (h.plural === plural && Number(h.obj.metadata.resourceVersion) > from && matches(h.obj, selector)) {
            res.write(`${JSON.stringify({ type: h.type, object: h.obj })}\n`);
          }
        }
      }
      return;
    }
    if (name === undefined) {
      const items = [...objects.entries()]
        .filter(([k, o]) => k.startsWith(`${plural}/`) && (ns === undefined || o.metadata.namespace === ns))
        .map(([, o]) => o)
        .filter((o) => matches(o, selector));
      return send(res, 200, { kind: 'List', metadata: { resourceVersion: String(rv) }, items });
    }
    const key = `${plural}/${ns}/${name}`;
    const cur = objects.get(key);
    if (!cur) return send(res, 404, statusBody(404, 'NotFound'));
    if (req.method === 'GET') return send(res, 200, cur);
    if (req.method === 'PUT' && sub === 'status') {
      if (opts.statusWrites) return send(res, opts.statusWrites, statusBody(opts.statusWrites, 'Refused'));
      if (opts.cachedWrites) return send(res, 200, cur);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Obj;
      if (body.metadata.resourceVersion !== cur.metadata.resourceVersion)
        return send(res, 409, statusBody(409, 'Conflict'));
      const next = { ...cur, status: body.status, metadata: { ...cur.metadata, resourceVersion: String(++rv) } };
      objects.set(key, next);
      emit(plural, 'MODIFIED', next);
      return send(res, 200, next);
    }
    return send(res, 405, statusBody(405, 'MethodNotAllowed'));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, statusBody(500, err.message)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    agents,
    opts,
    put(plural, ns, name, labels, extra = {}) {
      const key = `${plural}/${ns}/${name}`;
      const was = objects.get(key);
      const type = was ? 'MODIFIED' : 'ADDED';
      const obj: Obj = { ...extra, metadata: { name, namespace: ns, resourceVersion: String(++rv), labels } };
      objects.set(key, obj);
      emit(plural, type, obj, was);
      return obj;
    },
    delete(plural, ns, name) {
      const key = `${plural}/${ns}/${name}`;
      const cur = objects.get(key);
      if (!cur) return;
      objects.delete(key);
      emit(plural, 'DELETED', { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++rv) } });
    },
    get: (plural, ns, name) => objects.get(`${plural}/${ns}/${name}`),
    compact() {
      oldest = rv + 1;
      history.length = 0;
      for (const w of watchers) {
        w.res.write(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired') })}\n`);
        w.res.end();
      }
    },
    async close() {
      for (const w of watchers) w.res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
