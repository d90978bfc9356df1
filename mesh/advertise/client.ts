/**
 * Opening a tunnel to a service: to one of its providers, in the order of choice.ts, each attempt
 * bounded by SERVICE_ATTEMPT_TIMEOUT_MS. A provider that refuses (target not allowed, nothing
 * listening), cannot be reached or does not answer in time is marked failed and the next one is
 * tried at once; the connection fails only when every provider did (ERR_NO_PROVIDER). The node
 * and the path of each connection are logged, counted and kept for `/status`.
 */
import type { Logger } from '../../common/log.ts';
import type { Counter, Gauge } from '../../common/metrics.ts';
import { SERVICE_ATTEMPT_TIMEOUT_MS, SERVICE_MAX_ATTEMPTS } from '../constants.ts';
import { MeshError } from '../errors.ts';
import type { MeshTunnel, OpenTunnelOptions } from '../tunnel/tunnel.ts';
import type { PathClass } from './choice.ts';
import type { ServiceProviders } from './providers.ts';

export interface OpenServiceOptions {
  service: string;
  signal?: AbortSignal;
}

/** The last connection made for a service. */
export interface ServiceChoice {
  node: string;
  path: PathClass;
  /** Providers tried for it (1 = the first choice answered). */
  attempts: number;
  ms: number;
  /** Epoch milliseconds. */
  at: number;
}

export interface ServiceForwardMetrics {
  connections: Counter;
  failovers: Counter;
  providers: Gauge;
}

export interface ServiceClient {
  open(opts: OpenServiceOptions): Promise<MeshTunnel & { service: { name: string; node: string; path: PathClass } }>;
  last(): Record<string, ServiceChoice>;
}

export function createServiceClient(components: {
  providers: ServiceProviders;
  openTunnel: (opts: OpenTunnelOptions) => Promise<MeshTunnel>;
  log: Logger;
  metrics?: ServiceForwardMetrics;
  attemptTimeoutMs?: number;
}): ServiceClient {
  const { providers, metrics } = components;
  const log = components.log.child({ component: 'mesh.service-forward' });
  const last: Record<string, ServiceChoice> = {};
  const attemptMs = components.attemptTimeoutMs ?? SERVICE_ATTEMPT_TIMEOUT_MS;

  return {
    last: () => ({ ...last }),
    async open({ service, signal = new AbortController().signal }) {
      const started = performance.now();
      providers.want(service);
      let list = providers.ranked(service);
      if (list.length === 0) {
        await providers.lookupNow(service, signal);
        list = providers.ranked(service);
      }
      metrics?.providers.set(list.length, { service });
      if (list.length === 0) {
        metrics?.connections.inc(1, { service, result: 'no-provider', path: 'none' });
        throw new MeshError('ERR_NO_PROVIDER', `no node advertising service ${service} is known`);
      }
      const failures: string[] = [];
      for (const [i, p] of list.slice(0, SERVICE_MAX_ATTEMPTS).entries()) {
        if (signal.aborted) break;
        const t0 = performance.now();
        try {
          const t = await components.openTunnel({
            node: p.node,
            host: p.host,
            port: p.port,
            signal: AbortSignal.any([signal, AbortSignal.timeout(attemptMs)]),
          });
          const ms = performance.now() - t0;
          providers.succeeded(p.peerId, ms);
          const path = providers.pathOf(p.peerId);
          last[service] = {
            node: p.node,
            path,
            attempts: i + 1,
            ms: Math.round(performance.now() - started),
            at: Date.now(),
          };
          metrics?.connections.inc(1, { service, result: 'ok', path });
          log.info(
            { service, node: p.node, path, route: t.tunnel.route, attempt: i + 1, ms: Math.round(ms) },
            'service connection opened',
          );
          return Object.assign(t, { service: { name: service, node: p.node, path } });
        } catch (err) {
          providers.failed(p.peerId);
          const e = err as { code?: string; reason?: string; message: string };
          failures.push(`${p.node}: ${e.reason ?? e.code ?? e.message}`);
          const outer = signal.aborted;
          if (!outer) metrics?.failovers.inc(1, { service });
          log.warn(
            {
              service,
              node: p.node,
              path: p.path,
              code: e.code,
              reason: e.reason,
              err: e.message,
              next: outer ? undefined : list[i + 1]?.node,
            },
            outer ? 'service connection abandoned' : 'service provider failed; trying the next',
          );
        }
      }
      metrics?.connections.inc(1, { service, result: 'failed', path: 'none' });
      throw new MeshError(
        'ERR_NO_PROVIDER',
        signal.aborted
          ? `service ${service}: abandoned (${failures.join('; ') || 'before any attempt'})`
          : `no provider of service ${service} accepted: ${failures.join('; ')}`,
      );
    },
  };
}
