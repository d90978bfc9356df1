/**
 * The gateway's own HTTP endpoint (built, not started): /healthz, /readyz (objects listed, catalog
 * synced, every served port bound), /metrics, /status (ports with their hosts, every object's
 * status with the reasons it is not served).
 */
import Fastify from 'fastify';
import type { Logger } from '../../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer, type ListenerLimits } from '../../common/net/guard.ts';
import type { IngressGateway } from './gateway.ts';

export function buildGatewayServer(
  c: { gateway: Pick<IngressGateway, 'ready' | 'status'>; registry: Registry; log: Logger },
  limits: ListenerLimits = DEFAULT_HTTP_LIMITS,
) {
  const app = Fastify({ loggerInstance: c.log.child({ component: 'mesh.gateway.http' }, { level: 'warn' }) });
  guardHttpServer(app.server, 'http', limits, c);
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, reply) => {
    const ok = c.gateway.ready();
    reply
      .code(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ok\n' : 'starting\n');
  });
  app.get('/metrics', async (_req, reply) => reply.type(CONTENT_TYPE).send(c.registry.render()));
  app.get('/status', async () => c.gateway.status());
  return app;
}
