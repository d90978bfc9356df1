import Fastify, { LogController } from 'fastify';
import type { Logger } from '../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../common/metrics.ts';

/** A named health check, in the style of kube-apiserver's `[+]name ok` lines. */
export interface Check {
  name: string;
  /** Undefined when healthy, else the reason. */
  failure(): string | undefined;
}

export interface HttpServerInit {
  /** Checks behind /readyz. */
  readyz: Check[];
  /** Checks behind /livez and /healthz (process-level). */
  livez: Check[];
  /** Sent as `x-fedmesh-replica` on every response, so a client behind a VIP sees who answered. */
  replicaId?: string;
}

export interface HttpServerComponents {
  registry: Registry;
  log: Logger;
}

function report(checks: Check[]): { ok: boolean; body: string } {
  const lines = checks.map((c) => {
    const f = c.failure();
    return { ok: f === undefined, line: f === undefined ? `[+]${c.name} ok` : `[-]${c.name} failed: ${f}` };
  });
  const ok = lines.every((l) => l.ok);
  return { ok, body: `${lines.map((l) => l.line).join('\n')}\n${ok ? 'ok' : 'not ok'}\n` };
}

/** Builds (does not start) the GM's HTTP server: health, readiness, metrics. */
export function buildHttpServer(init: HttpServerInit, components: HttpServerComponents) {
  const app = Fastify({
    loggerInstance: components.log.child({ component: 'gm.http' }),
    // Probes arrive every few hundred ms; per-request lines would drown the log. (The top-level
    // `disableRequestLogging` option is deprecated, FSTDEP023.)
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown query parameters are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  if (init.replicaId) {
    const id = init.replicaId;
    app.addHook('onSend', async (_req, reply) => {
      reply.header('x-fedmesh-replica', id);
    });
  }
  const probe = (checks: Check[]) => async (req: { query: unknown }, reply: import('fastify').FastifyReply) => {
    const r = report(checks);
    const verbose = typeof req.query === 'object' && req.query !== null && 'verbose' in req.query;
    reply
      .code(r.ok ? 200 : 503)
      .type('text/plain; charset=utf-8')
      .send(verbose || !r.ok ? r.body : 'ok\n');
  };
  const query = { type: 'object', properties: { verbose: { type: 'string' } }, additionalProperties: false } as const;
  app.get('/healthz', { schema: { querystring: query } }, probe(init.livez));
  app.get('/livez', { schema: { querystring: query } }, probe(init.livez));
  app.get('/readyz', { schema: { querystring: query } }, probe(init.readyz));
  app.get('/metrics', async (_req, reply) => {
    reply.type(CONTENT_TYPE).send(components.registry.render());
  });
  return app;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:8080`); a missing host means all interfaces. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`expected HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
