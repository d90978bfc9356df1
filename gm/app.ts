import type { KubeConfig } from '@kubernetes/client-node';
import { PrerequisiteError } from '../common/errors.ts';
import type { ClusterAccess } from '../common/kube/access.ts';
import { createKubeRest } from '../common/kube/rest.ts';
import type { Logger } from '../common/log.ts';
import { createRegistry, registerProcessMetrics } from '../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer, type ListenerLimits } from '../common/net/guard.ts';
import { createLeaderElector, createLeaseLock } from './election/index.ts';
import { recordEvent } from './events.ts';
import { createGmHealth, type HealthInit } from './health/index.ts';
import { buildHttpServer, type Check } from './http.ts';
import { createHub, type HubInit } from './hub/index.ts';
import { createOperators, type OperatorsInit } from './operators/index.ts';
import { createFencingProbe } from './probe.ts';

export interface GmInit {
  /** This replica's identity in the Lease. */
  id: string;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** HTTP (health, readiness, metrics) listen address. */
  http: { host: string; port: number };
  /** Limits of the HTTP listener. Default DEFAULT_HTTP_LIMITS (1 024 connections, 256 per source, 10 s). */
  httpLimits?: ListenerLimits;
  /** `leader`: /readyz is 200 only on the leader (keepalived VIP); `replica`: whenever it can serve LCs. */
  readyz: 'leader' | 'replica';
  /** Poll only, like client-go (no Lease watch): for comparisons. Default false. */
  pollOnly?: boolean;
  /** When set, the leader writes a heartbeat ConfigMap through the fencing guard at this interval (ms). */
  fencingProbeIntervalMs?: number;
  /** The Sedna operators, run only while this replica leads (replicaId comes from `id`). Off when absent. */
  operators?: Omit<OperatorsInit, 'replicaId'>;
  /** Edge health: decisions on the leader, the admission webhook on every replica. Off when absent. */
  health?: HealthInit;
  /** The LC hub (runs on every replica); replica id and namespace come from `id` and `leaseNamespace`. */
  hub?: Omit<HubInit, 'replicaId' | 'namespace'>;
}

/** A long-running part of the GM: resolves once fully stopped after `signal` aborted. */
export interface Runnable {
  start(signal: AbortSignal): Promise<void>;
}

export interface GmComponents {
  /** The API server: plain access data (the `fedmesh gm` command) or a client-node KubeConfig (tests). */
  cluster: ClusterAccess | KubeConfig;
  log: Logger;
}

export interface Gm {
  /** Runs until `signal` aborts, then stops leader work, releases the lease and closes listeners. */
  start(signal: AbortSignal): Promise<void>;
  /** The HTTP address actually bound (after start began listening). */
  httpAddress(): string | undefined;
}

/** Wires one GM replica: elector, leader-only runnables, HTTP server, metrics. */
export async function createGm(init: GmInit, components: GmComponents): Promise<Gm> {
  const log = components.log;
  const rest = await createKubeRest(components.cluster);
  // Fail fast with a clear message when the API server cannot be reached at all.
  try {
    await rest.request('GET', '/version', { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    rest.close();
    throw new PrerequisiteError(`cannot reach the API server at ${rest.server}: ${(err as Error).message}`, {
      cause: err,
    });
  }

  const registry = createRegistry();
  registerProcessMetrics(registry);
  const transitions = registry.counter('fedmesh_gm_leader_transitions_total', 'Times this replica started leading.');
  const renewLatency = registry.histogram(
    'fedmesh_gm_lease_renew_duration_seconds',
    'Latency of lease acquire/renew attempts.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const leaseErrors = registry.counter(
    'fedmesh_gm_lease_errors_total',
    'Failed lease acquire/renew attempts by reason (the API reason, Timeout, or a socket error code).',
  );

  const lock = createLeaseLock({ namespace: init.leaseNamespace, name: init.leaseName, identity: init.id }, rest);
  // Events in flight are awaited before shutdown closes the client: the last one is "stopped leading".
  const pendingEvents = new Set<Promise<unknown>>();
  const event = (reason: string, message: string): void => {
    const p = recordEvent(
      rest,
      {
        namespace: init.leaseNamespace,
        involved: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: init.leaseName, uid: lock.uid() },
        reason,
        message,
        instance: init.id,
      },
      AbortSignal.timeout(2000),
    ).catch((err) => log.debug({ err }, 'event not recorded'));
    pendingEvents.add(p);
    void p.finally(() => pendingEvents.delete(p));
  };

  // Leader-only work (operators, the fencing probe) starts with each term and stops when it ends.
  // Work for every replica (the LC hub) runs from start to shutdown, leader or not.
  const leaderRunnables: Runnable[] = [];
  const replicaRunnables: Runnable[] = [];
  // Readiness of replica-wide components (e.g. hub caches synced), added to /readyz in replica mode.
  const replicaChecks: Check[] = [];
  if (init.hub) {
    const hub = createHub({ ...init.hub, replicaId: init.id, namespace: init.leaseNamespace }, { rest, log, registry });
    replicaRunnables.push(hub);
    replicaChecks.push(...hub.checks);
  }
  const elector = createLeaderElector(
    {
      leaseDurationMs: init.leaseDurationMs,
      renewDeadlineMs: init.renewDeadlineMs,
      retryPeriodMs: init.retryPeriodMs,
      watch: !init.pollOnly,
    },
    {
      lock,
      log,
      observer: {
        renewAttempt: (ms, ok) => renewLatency.observe(ms / 1000, { result: ok ? 'success' : 'failure' }),
        attemptFailed: (reason) => leaseErrors.inc(1, { reason }),
      },
      callbacks: {
        async onStartedLeading(signal) {
          transitions.inc();
          event('LeaderElection', `${init.id} became leader`);
          await Promise.all(leaderRunnables.map((r) => r.start(signal)));
        },
        onStoppedLeading(reason) {
          event('LeaderElection', `${init.id} stopped leading: ${reason}`);
        },
      },
    },
  );
  registry.gauge('fedmesh_gm_is_leader', '1 while this replica leads with a trusted lease.', () =>
    elector.isLeader() ? 1 : 0,
  );
  registry.gauge(
    'fedmesh_gm_lease_last_renew_age_seconds',
    'Seconds since the last successful lease renew was sent (absent when not leading).',
    () => {
      const age = elector.status().lastRenewAgeMs;
      return age === undefined ? undefined : age / 1000;
    },
  );
  if (init.fencingProbeIntervalMs) {
    leaderRunnables.push(
      createFencingProbe(
        {
          namespace: init.leaseNamespace,
          name: `${init.leaseName}-fencing-probe`,
          identity: init.id,
          intervalMs: init.fencingProbeIntervalMs,
        },
        { rest, guard: elector.guard, log },
      ),
    );
  }
  if (init.operators) {
    leaderRunnables.push(
      createOperators({ ...init.operators, replicaId: init.id }, { rest, guard: elector.guard, log, registry }),
    );
  }

  if (init.health) {
    const health = createGmHealth(init.health, { rest, guard: elector.guard, log, registry });
    leaderRunnables.push(health.leader);
    if (health.webhook) replicaRunnables.push(health.webhook);
  }

  const apiCheck: Check = {
    name: 'api',
    failure: () => {
      const age = elector.status().apiContactAgeMs;
      return age !== undefined && age < init.leaseDurationMs
        ? undefined
        : 'no successful API contact within the lease duration';
    },
  };
  // A replica whose Lease requests the API server refuses can never lead: say why, in both modes.
  const leaseCheck: Check = {
    name: 'lease',
    failure: () => {
      const p = elector.status().problem;
      if (!p) return undefined;
      const lease = `${init.leaseNamespace}/${init.leaseName}`;
      return p.op === 'create' && p.status === 404
        ? `lease namespace "${init.leaseNamespace}" not found (${p.message}); create it or choose another with --lease-namespace`
        : `${p.op} of Lease ${lease} refused: ${p.message}`;
    },
  };
  const readyz: Check[] =
    init.readyz === 'leader'
      ? [{ name: 'leader', failure: () => (elector.isLeader() ? undefined : 'not the leader') }, leaseCheck]
      : [
          apiCheck,
          { name: 'lease-watch', failure: () => (elector.status().watchSynced ? undefined : 'lease watch not synced') },
          leaseCheck,
          ...replicaChecks,
        ];
  const app = buildHttpServer(
    { readyz, livez: [{ name: 'ping', failure: () => undefined }], replicaId: init.id },
    { registry, log },
  );
  guardHttpServer(app.server, 'http', init.httpLimits ?? DEFAULT_HTTP_LIMITS, { registry, log });
  let address: string | undefined;

  return {
    httpAddress: () => address,
    async start(signal) {
      address = await app.listen({ host: init.http.host, port: init.http.port });
      log.info({ address, readyz: init.readyz, identity: init.id }, 'gm started');
      try {
        await Promise.all([elector.run(signal), ...replicaRunnables.map((r) => r.start(signal))]);
      } finally {
        await app.close();
        await Promise.allSettled(pendingEvents);
        rest.close();
        log.info('gm stopped');
      }
    },
  };
}
