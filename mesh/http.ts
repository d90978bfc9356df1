/**
 * The mesh node's HTTP endpoint (built, not started): /healthz, /readyz, /metrics and /status
 * (JSON: relays with RTT and reservation state, peers with their route, tunnels with theirs; the
 * service proxy's ports when it runs) and /services/NS/NAME (the proxy's view of one Service).
 */
import Fastify from 'fastify';
import type { Logger } from '../common/log.ts';
import { CONTENT_TYPE, type Registry } from '../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer, type ListenerLimits } from '../common/net/guard.ts';
import type { MeshNode } from './node.ts';
import type { ServiceProxy } from './proxy/index.ts';

export function buildMeshServer(
  components: {
    node: MeshNode;
    registry: Registry;
    log: Logger;
    ready: () => boolean;
    /** The service proxy when it runs: `/status` gains `proxy`, `/services/NS/NAME` its debug view. */
    proxy?: () => Pick<ServiceProxy, 'status' | 'explain'> | undefined;
  },
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
  app.get('/status', async () => {
    const proxy = components.proxy?.();
    return proxy ? { ...components.node.status(), proxy: proxy.status() } : components.node.status();
  });
  app.get<{ Params: { namespace: string; name: string } }>(
    '/services/:namespace/:name',
    {
      schema: {
        params: {
          type: 'object',
          required: ['namespace', 'name'],
          properties: {
            namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
            name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
          },
        },
      },
    },
    async (req, reply) => {
      const view = components.proxy?.()?.explain(req.params.namespace, req.params.name);
      if (!view) return reply.code(404).send({ error: 'no such Service in the proxy' });
      return view;
    },
  );
  return app;
}
