/**
 * The leader's health decision, one term at a time (like the operators): fresh informer caches of
 * the Nodes and of the views ConfigMaps, the intake (verified views → ballot box), and every tick
 * a decision per node (decide.ts) written to the Node as two annotations — the decision and the
 * tally line — only when it changed or is due for a refresh. While a node's decision protects it,
 * the leader also removes a NoExecute unreachable / not-ready taint that got on anyway (the webhook
 * was unreachable, or the taint predates the decision). Every write passes the fencing guard.
 *
 * A new leader starts from the published views and the annotations the previous one wrote, never
 * from nothing: it decides nothing before both caches synced and every listed ConfigMap was read.
 */
import { sleep } from '../../common/async.ts';
import { createInformer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { type TallyResult, tallyAnnotation, tallyZone } from '../../mesh/health/index.ts';
import { VIEWS_NODE_LABEL } from '../../mesh/health/publisher.ts';
import type { FencingGuard } from '../election/index.ts';
import {
  DECISION_ANNOTATION,
  HEALTH_FIELD_MANAGER,
  NOT_READY_TAINT,
  PEER_ANNOTATION,
  TALLY_ANNOTATION,
  UNREACHABLE_TAINT,
} from './constants.ts';
import { type Decision, decide, encodeDecision, parseDecision, protects } from './decide.ts';
import { createIntake } from './intake.ts';
import { createPodRestorer } from './pods.ts';
import type { ResolvedHealthInit } from './types.ts';
import { createZonesSource } from './zones-config.ts';

export const NODES: ResourceType = { group: '', version: 'v1', plural: 'nodes', kind: 'Node' };
export const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

export interface ControllerComponents {
  rest: KubeRest;
  guard: FencingGuard;
  log: Logger;
  registry?: Registry;
  clock: { now(): number; wall(): number };
  listerWatcher?: (r: ResourceType, namespace?: string) => ListerWatcher;
}

type Taint = { key: string; effect: string; value?: string; timeAdded?: string };

/** True for the NoExecute taints the node lifecycle controller puts on a silent node. */
export const isSilenceEviction = (t: Taint) =>
  t.effect === 'NoExecute' && (t.key === UNREACHABLE_TAINT || t.key === NOT_READY_TAINT);

export function createHealthController(init: ResolvedHealthInit, c: ControllerComponents) {
  const log = c.log.child({ component: 'gm.health' });
  const lw = c.listerWatcher ?? ((r: ResourceType, ns?: string) => restListerWatcher(c.rest, r, ns));
  const outcomes = c.registry?.gauge('fedmesh_gm_health_nodes', 'Nodes by the leader’s health outcome');
  const decisions = c.registry?.counter('fedmesh_gm_health_decisions_total', 'Decisions written, by outcome');
  const untainted = c.registry?.counter(
    'fedmesh_gm_health_taints_removed_total',
    'NoExecute taints the leader removed from nodes their peers see healthy',
  );
  const restoredPods = c.registry?.counter(
    'fedmesh_gm_health_pods_restored_total',
    'Pods set Ready again on nodes their peers see healthy (marked not ready during a webhook outage)',
  );
  const pods = createPodRestorer({ rest: c.rest, guard: c.guard, log, wall: () => c.clock.wall() });
  /** When each protected NotReady node's pods were last checked (wall ms): at most once per refresh. */
  const podsChecked = new Map<string, number>();
  const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;
  const patchNode = (name: string, body: unknown, contentType: string, signal: AbortSignal) =>
    c.guard.write((term) =>
      c.rest.request<KubeObject>('PATCH', nodePath(name), {
        body,
        contentType,
        query: { fieldManager: HEALTH_FIELD_MANAGER },
        signal: AbortSignal.any([term, signal, AbortSignal.timeout(10_000)]),
        beforeSend: () => c.guard.check(),
      }),
    );

  async function term(signal: AbortSignal): Promise<void> {
    const nodes = createInformer({ resource: NODES }, { listerWatcher: lw(NODES), log });
    const views = createInformer(
      { resource: CONFIGMAPS, namespace: init.namespace, labelSelector: VIEWS_NODE_LABEL },
      { listerWatcher: lw(CONFIGMAPS, init.namespace), log },
    );
    // Zones from ConfigMap fedmesh-health when present (as on the nodes), else the flags.
    const zonesSource = createZonesSource(
      { namespace: init.namespace, flags: init.zones },
      {
        listerWatcher: lw(CONFIGMAPS, init.namespace),
        log,
        registry: c.registry,
        changed: () => intake.nodesChanged(),
      },
    );
    const intake = createIntake(
      { maxSkewMs: init.maxSkewMs, zones: zonesSource.zones },
      {
        nodes: () => nodes.list(),
        node: (name) => nodes.get('', name),
        pin: async (node, peerId) => {
          await patchNode(
            node,
            { metadata: { annotations: { [PEER_ANNOTATION]: peerId } } },
            'application/merge-patch+json',
            signal,
          );
        },
        log: c.log,
        registry: c.registry,
        clock: c.clock,
      },
    );
    // ConfigMaps are read one at a time, in arrival order (a ballot box is not re-entrant per voter).
    let chain = Promise.resolve();
    const ingest = (cm: KubeObject) => {
      chain = chain.then(() =>
        intake.ingest(cm).catch((err: unknown) => log.warn({ err, configmap: cm.metadata.name }, 'views not read')),
      );
    };
    nodes.addHandlers({
      add: () => intake.nodesChanged(),
      update: () => intake.nodesChanged(),
      // A node gone from the cluster no longer votes; its stamps and views are dropped.
      delete: (n) => {
        intake.nodesChanged();
        intake.box.forget(n.metadata.name);
      },
    });
    views.addHandlers({ add: ingest, update: (_old, cur) => ingest(cur) });
    const informers = Promise.all([nodes.start(signal), views.start(signal), zonesSource.informer.start(signal)]);
    try {
      if (!(await zonesSource.informer.waitForSync(signal))) return;
      if (!(await nodes.waitForSync(signal)) || !(await views.waitForSync(signal))) return;
      await chain;
      log.info({ nodes: nodes.list().length, views: views.list().length }, 'health decisions start');
      while (!signal.aborted) {
        await chain;
        await tick(nodes.list(), intake, signal).catch((err: unknown) => {
          if (!signal.aborted) log.warn({ err }, 'health decision round failed');
        });
        await sleep(init.tickMs, signal);
      }
    } finally {
      await informers;
    }
  }

  async function tick(all: KubeObject[], intake: ReturnType<typeof createIntake>, signal: AbortSignal) {
    const now = c.clock.now();
    const wall = c.clock.wall();
    const ballots = intake.box.ballots();
    const tallies = new Map<string, { result: TallyResult; heard: boolean; shared: boolean }>();
    const count = { healthy: 0, unhealthy: 0, unknown: 0 };
    for (const node of all) {
      const name = node.metadata.name;
      if (!tallies.has(name)) {
        const zone = intake.zoneOf(name);
        const results = tallyZone({ zone, ballots, now, windowMs: init.windowMs });
        const heard = [...results.values()].some((r) => r.voters > 0);
        for (const [m, result] of results) tallies.set(m, { result, heard, shared: zone.members.length > 1 });
      }
      const t = tallies.get(name);
      if (!t) continue;
      const previous = parseDecision(node.metadata.annotations?.[DECISION_ANNOTATION]);
      const next = decide({
        tally: t.result,
        zoneHeard: t.heard,
        zoneShared: t.shared,
        previous,
        now: wall,
        holdMs: init.holdMs,
      });
      count[next.outcome]++;
      // One node's failed write (a conflict, a refusal) must not stall the others' decisions.
      await write(node, previous, next, tallyAnnotation(t.result), wall, signal).catch((err: unknown) => {
        if (!signal.aborted) log.warn({ err, node: name }, 'health decision not written; retrying next tick');
      });
    }
    for (const [outcome, n] of Object.entries(count)) outcomes?.set(n, { outcome });
  }

  async function write(
    node: KubeObject,
    previous: Decision | undefined,
    next: Decision,
    tally: string,
    wall: number,
    signal: AbortSignal,
  ) {
    const name = node.metadata.name;
    const a = node.metadata.annotations ?? {};
    const changed =
      previous?.outcome !== next.outcome ||
      previous.held !== next.held ||
      (a[TALLY_ANNOTATION] !== tally && !next.held) ||
      wall - previous.at >= init.refreshMs;
    let current = node;
    if (changed) {
      // A held decision keeps the tally line that justified it.
      const annotations = {
        [DECISION_ANNOTATION]: encodeDecision(next),
        ...(next.held ? {} : { [TALLY_ANNOTATION]: tally }),
      };
      current = await patchNode(name, { metadata: { annotations } }, 'application/merge-patch+json', signal);
      if (previous?.outcome !== next.outcome || previous.held !== next.held) {
        decisions?.inc(1, { outcome: next.outcome });
        log.info({ node: name, outcome: next.outcome, held: next.held, tally }, 'node health decided');
      }
    }
    const taints: Taint[] = current.spec?.taints ?? [];
    if (protects(next, wall, init.staleMs) && taints.some(isSilenceEviction)) {
      await patchNode(
        name,
        [
          { op: 'test', path: '/metadata/resourceVersion', value: current.metadata.resourceVersion },
          { op: 'replace', path: '/spec/taints', value: taints.filter((t) => !isSilenceEviction(t)) },
        ],
        'application/json-patch+json',
        signal,
      );
      untainted?.inc();
      log.info({ node: name, tally }, 'eviction taint removed: peers see the node healthy');
    }
    const ready = (current.status?.conditions ?? []).some(
      (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
    );
    if (!protects(next, wall, init.staleMs) || ready) podsChecked.delete(name);
    else if (wall - (podsChecked.get(name) ?? Number.NEGATIVE_INFINITY) >= init.refreshMs) {
      podsChecked.set(name, wall);
      const n = await pods.restore(name, signal);
      if (n) restoredPods?.inc(n);
    }
  }

  return {
    needsLeaderElection: true as const,
    /** Runs one term until `signal` aborts (leadership lost or shutdown). */
    start: term,
  };
}
