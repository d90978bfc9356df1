/** The gateway's metrics, `fedmesh_gateway_*`, per route (`namespace/virtualservice/route`). */
import type { Registry } from '../../common/metrics.ts';

export interface GatewayMetrics {
  request(route: string, code: number, seconds: number): void;
  upstreamError(route: string, reason: string): void;
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function gatewayMetrics(registry: Registry | undefined): GatewayMetrics {
  if (!registry) return { request: () => {}, upstreamError: () => {} };
  const requests = registry.counter(
    'fedmesh_gateway_requests_total',
    'Requests answered, by route (404s without one: route "none") and status code class.',
  );
  const duration = registry.histogram(
    'fedmesh_gateway_request_duration_seconds',
    'Time from the request head to the response head, by route.',
    BUCKETS,
  );
  const errors = registry.counter(
    'fedmesh_gateway_upstream_errors_total',
    'Requests whose destination gave no response, by route and reason (no-endpoint, connect-failure, reset, timeout, no-service).',
  );
  return {
    request(route, code, seconds) {
      requests.inc(1, { route, code: `${Math.floor(code / 100)}xx` });
      duration.observe(seconds, { route });
    },
    upstreamError: (route, reason) => errors.inc(1, { route, reason }),
  };
}
