/**
 * The `services` and `dns` sections of the mesh config file (mesh/config.ts embeds them):
 *
 *   services:                          # watch Services and EndpointSlices (mesh/services)
 *     kubeconfig: /etc/fedmesh/kubeconfig   # absent: in-cluster, then $KUBECONFIG
 *     namespace: demo                  # absent: every namespace
 *     clusterDomain: cluster.local
 *   dns:                               # the node-local resolver (mesh/dns); needs no `services` to forward
 *     listen: [169.254.96.16:53]
 *     upstreams: [10.0.0.2, "[fd00::53]:53"]   # absent: the nameservers of /etc/resolv.conf
 *     cacheSize: 10000
 *     ttl: 5                           # seconds, cluster answers
 *     rateLimit: { qps: 500, burst: 1000 }     # per source; false: off
 *
 * Both need a restart to change.
 */
import { type Static, Type } from 'typebox';

const strict = { additionalProperties: false } as const;
const HostPort = Type.String({ pattern: '^(\\[[^\\]]+\\]|[^:\\s]*):\\d{1,5}$', maxLength: 300 });

export const ServicesConfigSchema = Type.Object(
  {
    kubeconfig: Type.Optional(Type.String({ minLength: 1 })),
    namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' })),
    clusterDomain: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\\.?$',
      }),
    ),
  },
  strict,
);
export type ServicesConfig = Static<typeof ServicesConfigSchema>;

export const DnsConfigSchema = Type.Object(
  {
    listen: Type.Optional(Type.Array(HostPort, { minItems: 1, maxItems: 8 })),
    upstreams: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { maxItems: 8 })),
    cacheSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
    rateLimit: Type.Optional(
      Type.Union([
        Type.Object(
          {
            qps: Type.Number({ exclusiveMinimum: 0, maximum: 1e6 }),
            burst: Type.Integer({ minimum: 1, maximum: 1e6 }),
          },
          strict,
        ),
        Type.Literal(false),
      ]),
    ),
  },
  strict,
);
export type DnsConfig = Static<typeof DnsConfigSchema>;
