/**
 * gm/health: the cloud side of node health decided by the nodes (issue 19). The leader reads the
 * signed views the node agents write to the API, tallies each zone (zones from Node labels),
 * decides per node and annotates the Node; every replica serves the admission webhook that keeps
 * the NoExecute eviction taint off, and pods ready, on nodes whose peers see them healthy.
 * See README.md, docs/edge-health.md and docs/adr/0006-health-views-to-the-cloud.md.
 */
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { DEFAULT_ZONE_LABEL, DEFAULT_ZONES_ENABLED } from '../../mesh/health/constants.ts';
import type { FencingGuard } from '../election/index.ts';
import {
  DEFAULT_HOLD_MS,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_REFRESH_MS,
  DEFAULT_STALE_MS,
  DEFAULT_TICK_MS,
  DEFAULT_WINDOW_MS,
} from './constants.ts';
import { createHealthController } from './controller.ts';
import type { HealthInit, ResolvedHealthInit } from './types.ts';
import { buildHealthWebhook } from './webhook.ts';

export {
  DECISION_ANNOTATION,
  DEFAULT_CONTROLLER_USERS,
  PEER_ANNOTATION,
  TALLY_ANNOTATION,
} from './constants.ts';
export { type Decision, parseDecision } from './decide.ts';
export type { HealthInit, HealthWebhookInit } from './types.ts';
export { NODE_PATH, POD_STATUS_PATH } from './webhook.ts';

export interface HealthComponents {
  rest: KubeRest;
  guard: FencingGuard;
  log: Logger;
  registry?: Registry;
  clock?: { now(): number; wall(): number };
}

export interface GmHealth {
  /** The leader's decisions: start it from `onStartedLeading(signal)`; one term per call. */
  leader: { readonly needsLeaderElection: true; start(signal: AbortSignal): Promise<void> };
  /** The webhook server (every replica), when configured: listens until `signal` aborts. */
  webhook?: { start(signal: AbortSignal): Promise<void>; address(): string | undefined };
}

export function resolveHealthInit(init: HealthInit): ResolvedHealthInit {
  const r: ResolvedHealthInit = {
    namespace: init.namespace,
    zones: { enabled: init.zones?.enabled ?? DEFAULT_ZONES_ENABLED, label: init.zones?.label ?? DEFAULT_ZONE_LABEL },
    tickMs: init.tickMs ?? DEFAULT_TICK_MS,
    windowMs: init.windowMs ?? DEFAULT_WINDOW_MS,
    maxSkewMs: init.maxSkewMs ?? DEFAULT_MAX_SKEW_MS,
    refreshMs: init.refreshMs ?? DEFAULT_REFRESH_MS,
    staleMs: init.staleMs ?? DEFAULT_STALE_MS,
    holdMs: init.holdMs ?? DEFAULT_HOLD_MS,
    webhook: init.webhook,
  };
  // A decision must be refreshed before the webhook stops trusting it.
  if (r.refreshMs >= r.staleMs) throw new RangeError('health: refresh must be shorter than stale');
  if (r.tickMs <= 0 || r.windowMs <= 0 || r.maxSkewMs <= 0) throw new RangeError('health: timings must be positive');
  return r;
}

export function createGmHealth(init: HealthInit, c: HealthComponents): GmHealth {
  const r = resolveHealthInit(init);
  const clock = c.clock ?? { now: () => performance.now(), wall: () => Date.now() };
  const leader = createHealthController(r, { ...c, clock });
  let address: string | undefined;
  const webhookInit = r.webhook;
  const webhook = webhookInit
    ? {
        address: () => address,
        async start(signal: AbortSignal) {
          const app = buildHealthWebhook({ ...webhookInit, staleMs: r.staleMs }, { ...c, wall: clock.wall });
          address = await app.listen({ host: webhookInit.host, port: webhookInit.port });
          c.log.info({ address }, 'health webhook listening');
          if (!signal.aborted) await new Promise((res) => signal.addEventListener('abort', res, { once: true }));
          await app.close();
        },
      }
    : undefined;
  return { leader, webhook };
}
