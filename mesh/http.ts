/**
 * The mesh node's HTTP endpoint (built, not started): /healthz, /readyz, /metrics and /status
 * (JSON: relays with RTT and reservation state, peers with their route, tunnels with theirs).
 */
import Fastify from 'fastify';
import type { Logger } from '../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer, type ListenerLimits } from '../common/net/guard.ts';
import type { MeshNode } from './node.ts';

export function buildMeshServer(
  components: { node: MeshNode; registry: Registry; log: Logger; ready: () => boolean },
  limits: ListenerLimits = DEFAULT_HTTP_LIMITS,
) {
  const app = Fastify({
    // Request lines would drown the log (tests and dashboards poll /status); errors still show.
    loggerInstance: components.log.child({ component: 'mesh.http' }, { level: 'warn' }),
  });
  guardHttpServer(app.server, 'http', limits, components);
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, reply) => {
    const ok = components.ready();
    reply
      .code(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ok\n' : 'starting\n');
  });
  app.get('/metrics', async (_req, reply) => reply.type(CONTENT_TYPE).send(components.registry.render()));
  app.get('/status', async () => components.node.status());
  return app;
}
