/**
 * The LC's HTTP server (built, not started): Sedna's worker API, health, readiness, metrics and
 * read-only introspection. Worker input is hostile until proven otherwise: the body is size- and
 * depth-checked before JSON.parse, schema-checked, and refused with a 4xx (never a 500).
 */
import Fastify, { type FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import type { Logger } from '../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../common/metrics.ts';
import { checkDepth, isWireError } from '../common/wire/index.ts';
import { MAX_REPORT_BYTES } from './constants.ts';
import { ReportRefusedError } from './errors.ts';
import type { WorkerOutcome } from './managers/types.ts';
import type { DeadLetter } from './store/types.ts';
import {
  DEAD_LETTERS_LISTED,
  DeadLettersQuerySchema,
  DeadLettersReplySchema,
  reportOfWorkerMessage,
  type WorkerMessage,
  type WorkerMessageBody,
  WorkerMessageSchema,
  WorkerParamsSchema,
  WorkerReplySchema,
  workerMessageOf,
} from './worker-api.ts';

/** A named check: undefined when fine, else the reason. */
export interface Check {
  name: string;
  failure(): string | undefined;
}

export interface LcServerInit {
  readyz: Check[];
  livez: Check[];
  /** Largest request body (bytes), 413 beyond. Default MAX_REPORT_BYTES: no valid report is bigger than its frame. */
  bodyLimit?: number;
}

export interface LcServerComponents {
  registry: Registry;
  log: Logger;
  /** Durably enqueues a report (on disk when it returns); throws ReportRefusedError to refuse it. */
  enqueue(report: NonNullable<Exclude<ReturnType<typeof reportOfWorkerMessage>, string>>): void;
  /**
   * The owner kind's manager's answer to a worker message (lc/managers): the report to enqueue, or
   * a refusal (e.g. 404 for an owner this node does not hold). Undefined: every message is forwarded.
   */
  route?(m: WorkerMessage): WorkerOutcome;
  /** The newest dead letters (at most `limit`) and how many are kept, for `GET /fedmesh/dead-letters`. */
  deadLetters(limit: number): { items: DeadLetter[]; total: number };
  /** The LC's status (link, path, outbox) for `GET /fedmesh/status`. */
  status?(): object;
  /** What the store holds now, for `GET /fedmesh/objects` (read-only introspection). */
  objects(): Array<{ kind: string; namespace: string; name: string; resourceVersion?: string }>;
}

export function buildLcServer(init: LcServerInit, components: LcServerComponents) {
  const app = Fastify({
    // Requests are not logged (workers post often); warnings and errors are.
    loggerInstance: components.log.child({ component: 'lc.http' }, { level: 'warn' }),
    bodyLimit: init.bodyLimit ?? MAX_REPORT_BYTES,
    // Types are checked, not coerced: `"name": 3` is an error, not "3".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  // Fastify's own JSON parser (prototype-poisoning checks included), behind the wire's depth limit:
  // V8 parses a million levels, but every later JSON.stringify of it overflows the stack (a 500).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    try {
      checkDepth(body as string, 'ERR_MALFORMED_JSON');
    } catch (err) {
      if (!isWireError(err)) throw err;
      return done(Object.assign(new Error(`invalid JSON body: ${err.message}`), { statusCode: 400 }), undefined);
    }
    parseJson(req, body as string, done);
  });
  const reply = (r: FastifyReply, code: number, message: string) =>
    r.code(code).send({ Status: code, Message: message });
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, _req, r) => {
    if (err.validation) return reply(r, 400, err.message);
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) components.log.error({ err }, 'worker api failed');
    return reply(r, code, code === 500 ? 'internal error' : err.message);
  });
  app.post<{ Params: { name: string }; Body: WorkerMessageBody }>(
    '/sedna/workers/:name/info',
    { schema: { params: WorkerParamsSchema, body: WorkerMessageSchema, response: { 200: WorkerReplySchema } } },
    async (req, r) => {
      const m = workerMessageOf(req.body);
      if (m.name !== req.params.name) {
        return reply(r, 400, `worker name ${req.params.name} in the path differs from ${m.name} in the body`);
      }
      const forwarded = reportOfWorkerMessage(m);
      if (typeof forwarded === 'string') return reply(r, 400, forwarded);
      const outcome = components.route?.(m) ?? { report: forwarded };
      if ('refuse' in outcome) return reply(r, outcome.refuse.status, outcome.refuse.message);
      const report = outcome.report;
      try {
        components.enqueue(report);
      } catch (err) {
        if (err instanceof ReportRefusedError) return reply(r, err.status, err.message);
        throw err;
      }
      return reply(r, 200, 'OK');
    },
  );
  // Not part of Sedna's API: lets an operator (and the tests) see what this node serves from its store.
  app.get('/fedmesh/objects', async () => ({ items: components.objects() }));
  // The link, the path (which, since when, switches) and the outbox: lc.status().
  app.get('/fedmesh/status', async () => components.status?.() ?? {});
  app.get<{ Querystring: Static<typeof DeadLettersQuerySchema> }>(
    '/fedmesh/dead-letters',
    { schema: { querystring: DeadLettersQuerySchema, response: { 200: DeadLettersReplySchema } } },
    async (req) => components.deadLetters(Number(req.query.limit ?? DEAD_LETTERS_LISTED)),
  );
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
