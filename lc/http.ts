/** The LC's HTTP server (built, not started): Sedna's worker API, health, readiness and metrics. */
import Fastify, { type FastifyReply } from 'fastify';
import type { Logger } from '../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../common/metrics.ts';
import {
  reportOfWorkerMessage,
  type WorkerMessage,
  WorkerMessageSchema,
  WorkerParamsSchema,
  WorkerReplySchema,
} from './worker-api.ts';

/** A named check: undefined when fine, else the reason. */
export interface Check {
  name: string;
  failure(): string | undefined;
}

export interface LcServerInit {
  readyz: Check[];
  livez: Check[];
}

export interface LcServerComponents {
  registry: Registry;
  log: Logger;
  /** Durably enqueues a report (on disk when it returns). */
  enqueue(report: NonNullable<Exclude<ReturnType<typeof reportOfWorkerMessage>, string>>): void;
  /** What the store holds now, for `GET /fedmesh/objects` (read-only introspection). */
  objects(): Array<{ kind: string; namespace: string; name: string; resourceVersion?: string }>;
}

export function buildLcServer(init: LcServerInit, components: LcServerComponents) {
  const app = Fastify({
    // Requests are not logged (workers post often); warnings and errors are.
    loggerInstance: components.log.child({ component: 'lc.http' }, { level: 'warn' }),
    bodyLimit: 1024 * 1024,
    // Types are checked, not coerced: `"name": 3` is an error, not "3".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  const reply = (r: FastifyReply, code: number, message: string) =>
    r.code(code).send({ Status: code, Message: message });
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, _req, r) => {
    if (err.validation) return reply(r, 400, err.message);
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) components.log.error({ err }, 'worker api failed');
    return reply(r, code, code === 500 ? 'internal error' : err.message);
  });
  app.post<{ Params: { name: string }; Body: WorkerMessage }>(
    '/sedna/workers/:name/info',
    { schema: { params: WorkerParamsSchema, body: WorkerMessageSchema, response: { 200: WorkerReplySchema } } },
    async (req, r) => {
      if (req.body.name !== req.params.name) {
        return reply(r, 400, `worker name ${req.params.name} in the path differs from ${req.body.name} in the body`);
      }
      const report = reportOfWorkerMessage(req.body);
      if (typeof report === 'string') return reply(r, 400, report);
      components.enqueue(report);
      return reply(r, 200, 'OK');
    },
  );
  // Not part of Sedna's API: lets an operator (and the tests) see what this node serves from its store.
  app.get('/fedmesh/objects', async () => ({ items: components.objects() }));
  const probe = (checks: Check[]) => async (_req: unknown, r: FastifyReply) => {
    const failed = checks.map((c) => [c.name, c.failure()] as const).filter(([, f]) => f !== undefined);
    const body = checks.map((c) => {
      const f = c.failure();
      return f === undefined ? `[+]${c.name} ok` : `[-]${c.name} failed: ${f}`;
    });
    r.code(failed.length ? 503 : 200)
      .type('text/plain; charset=utf-8')
      .send(`${body.join('\n')}\n${failed.length ? 'not ok' : 'ok'}\n`);
  };
  app.get('/healthz', probe(init.livez));
  app.get('/livez', probe(init.livez));
  app.get('/readyz', probe(init.readyz));
  app.get('/metrics', async (_req, r) => {
    r.type(CONTENT_TYPE).send(components.registry.render());
  });
  return app;
}
