/**
 * The health agent: the core of this folder wired into a mesh node. It
 *
 * - probes every other member of its zone each period over the mesh and directly, at once: the
 *   libp2p ping over whatever path the mesh has to that node (transport/dial.ts: direct, else
 *   through a relay; the node named by the directory's name → peer binding) and a plain TCP dial
 *   to the listen address in its signed record (direct.ts); either answering makes it healthy;
 * - publishes its signed view to those members on `/fedmesh/health/1.0.0` (one length-prefixed
 *   view per stream, at most MAX_VIEW_BYTES) and puts it in its own ballot box;
 * - verifies views it receives against the directory's pinned keys (ballot.ts) and keeps the
 *   latest of each voter; refusals are counted (`fedmesh_mesh_health_views_total{result}`:
 *   `accepted`, a ViewRejectedError code, or `unreadable` for a stream cut short) and logged at
 *   most once per code every REJECT_LOG_INTERVAL_MS;
 * - tallies its zone on demand (`status()`, the per-outcome gauges).
 *
 * Zones come from the Node labels when the agent has cluster access (config `publish`; cluster.ts,
 * which also reloads the configuration from ConfigMap `fedmesh-health`); without it, from the
 * mesh config's `zone` value carried in each node's signed record (self-declared: a node can
 * claim any zone, but still only vote as itself).
 */
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { loadClusterAccess } from '../../common/kube/access.ts';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { Directory } from '../records/directory.ts';
import { MessageReadError, readMessage, writeMessage } from '../stream-io.ts';
import { type BallotBox, createBallotBox } from './ballot.ts';
import { type ClusterSource, createClusterSource } from './cluster.ts';
import type { HealthConfig } from './config.ts';
import { MAX_CONCURRENT_PROBES, MAX_VIEW_BYTES } from './constants.ts';
import { type DirectAddr, dialAny, directAddrs } from './direct.ts';
import { bumpEpoch } from './epoch.ts';
import { ViewRejectedError } from './errors.ts';
import { createProber, type HealthClock, type Prober, systemHealthClock } from './prober.ts';
import { createViewPublisher } from './publisher.ts';
import { labelsOf, REJECT_LOG_INTERVAL_MS, rateLimitedWarn } from './refusals.ts';
import { type Outcome, tallyZone } from './tally.ts';
import type { SignedView } from './view.ts';
import { type LabelledNode, type Zone, zoneOf } from './zones.ts';

/** One signed view per stream, sent by the voter to each member of its zone every period. */
export const HEALTH_PROTOCOL = '/fedmesh/health/1.0.0';
/** A sender has this long to deliver its view once the stream is open (a view is ≤ 512 KiB). */
const READ_TIMEOUT_MS = 5_000;
/** Views in flight at once from one connection (one per period is the norm; a few cover a slow link). */
const MAX_INBOUND_STREAMS = 4;

export { REJECT_LOG_INTERVAL_MS } from './refusals.ts';

const OUTCOMES: readonly Outcome[] = ['healthy', 'unhealthy', 'unknown'];

export interface HealthAgentInit {
  /** This node's name. */
  self: string;
  /** This node's peer ID (its key signs the views). */
  peerId: string;
  /** State dir: holds the epoch file (epoch.ts). */
  stateDir: string;
  /** This node's zone value (mesh config `zone`); unset: no zone (alone when zones are on). */
  zone?: string;
  config: HealthConfig;
}

export interface HealthAgentComponents {
  key: PrivateKey;
  directory: Pick<Directory, 'peerOf' | 'get' | 'pins'>;
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>;
  /** A connection to a peer over the best path the mesh has (transport/dial.ts). */
  connect(peer: PeerId, signal: AbortSignal): Promise<Connection>;
  /** One ping round trip to a connected peer (libp2p ping service); rejects on failure. */
  ping(peer: PeerId, signal: AbortSignal): Promise<unknown>;
  log: Logger;
  registry?: Registry;
  clock?: HealthClock;
  /** The API the views are published to (config `publish`); default: from `publish.kubeconfig`. */
  rest?: KubeRest;
  /** The direct probe (direct.ts `dialAny`); replaced in tests. */
  dial?: (addrs: readonly DirectAddr[], signal: AbortSignal) => Promise<boolean>;
}

/** One zone member as this node's tally sees it. */
export interface HealthNodeStatus {
  node: string;
  outcome: Outcome;
  /** Other voters saying healthy / unhealthy. */
  for: number;
  against: number;
  /** Fresh views counted (n), the node's own included when it voted. */
  voters: number;
  self: boolean;
  /** This node's last probe of the member by each path (absent for itself or before a probe; direct null: no address). */
  paths?: { mesh: boolean; direct: boolean | null };
}

export interface HealthStatus {
  zone: string;
  epoch: number;
  periodMs: number;
  /** This node's tally of its zone, itself included. */
  nodes: HealthNodeStatus[];
  /** Where zones and configuration come from: `cluster` (Node labels, ConfigMap in force) or `records` / `file`. */
  zonesFrom: 'nodes' | 'records';
  configFrom: 'configmap' | 'file';
}

export interface HealthAgent {
  /** Serves the protocol and probes/publishes every period until `signal` aborts; resolves once stopped. */
  start(signal: AbortSignal): Promise<void>;
  /**
   * The file's configuration changed: timing, window and skew from the next period on (zones: next
   * period too), unless the ConfigMap's configuration is in force (it wins; the file stays the fallback).
   */
  reconfigure(config: HealthConfig): void;
  status(): HealthStatus;
  /** Feeds received view bytes to the ballot box, counting and logging a refusal (the protocol handler's core). */
  receive(bytes: Uint8Array): Promise<boolean>;
  /**
   * What the node passes to the cloud (publisher.ts): its own latest view and the latest view of
   * each zone peer received within the window, as signed bytes.
   */
  heldViews(): HeldViews;
  readonly epoch: number;
}

/** Signed views a node holds: its own latest, and its zone peers' fresh ones by voter name. */
export interface HeldViews {
  own?: Uint8Array;
  peers: Map<string, Uint8Array>;
}

/** Bumps the epoch (epoch.ts) and builds the agent; throws when the epoch cannot be stored. */
export async function createHealthAgent(init: HealthAgentInit, c: HealthAgentComponents): Promise<HealthAgent> {
  const log = c.log.child({ component: 'mesh.health' });
  const clock = c.clock ?? systemHealthClock;
  let cfg = init.config;
  let fileCfg = init.config;
  const epoch = await bumpEpoch(init.stateDir, { log, wall: () => clock.wall() });
  // Views to the cloud (publisher.ts), beside the probes, when configured; read at start only.
  // The cluster access is resolved now, so a node without one fails at start-up, not later.
  const toCloud = init.config.publish;
  const rest = toCloud && (c.rest ?? (await createKubeRest(loadClusterAccess(toCloud.kubeconfig).access)));
  const apply = (next: HealthConfig, source: string) => {
    cfg = next;
    prober.reconfigure(next);
    log.info(
      { source, periodMs: next.periodMs, windowMs: next.windowMs, zones: next.zones },
      'health configuration in force',
    );
  };
  const cluster: ClusterSource | undefined =
    toCloud && rest
      ? createClusterSource(
          { namespace: toCloud.namespace },
          { rest, fileConfig: () => fileCfg, apply, log: c.log, registry: c.registry },
        )
      : undefined;

  const zone = (): Zone => {
    const label = cfg.zones.label;
    const labels = (z: string | undefined) => (z ? { [label]: z } : undefined);
    // The Node labels once listed (the GM's source too); until then the records' self-declared values.
    const fromNodes = cluster?.nodesSynced() === true;
    const of = (name: string, own: string | undefined) => labels(fromNodes ? cluster?.zoneValue(name, label) : own);
    const nodes: LabelledNode[] = [{ name: init.self, labels: of(init.self, init.zone) }];
    for (const { name } of c.directory.pins()) {
      if (name !== init.self) nodes.push({ name, labels: of(name, c.directory.get(name)?.record.zone) });
    }
    return zoneOf(init.self, nodes, cfg.zones);
  };

  const box: BallotBox = createBallotBox(
    {
      get maxSkewMs() {
        return cfg.maxSkewMs;
      },
    },
    {
      keyOf: (name) => (name === init.self ? init.peerId : c.directory.peerOf(name)),
      // Zones off: every node is in the one zone, including one whose record has not reached us
      // yet — a view judging it is not "outside the zone" (the tally lists known nodes only).
      zoneOf: () => {
        const z = zone();
        return cfg.zones.enabled ? z : { ...z, has: () => true };
      },
      clock,
    },
  );

  const views = c.registry?.counter('fedmesh_mesh_health_views_total', 'Health views received, by result');
  const probes = c.registry?.counter(
    'fedmesh_mesh_health_probes_total',
    'Probes of zone members by path (mesh, direct) and result (ok, failed, none: no direct address)',
  );
  const dial = c.dial ?? dialAny;
  /** Each member's last probe by path, for the status. */
  const paths = new Map<string, { mesh: boolean; direct: boolean | null }>();
  const count = (result: string) => views?.inc(1, labelsOf({ result }));
  const logRejection = rateLimitedWarn(log, clock, REJECT_LOG_INTERVAL_MS, 'health view rejected');

  const receive = async (bytes: Uint8Array): Promise<boolean> => {
    try {
      await box.accept(bytes);
      count('accepted');
      return true;
    } catch (err) {
      if (!(err instanceof ViewRejectedError)) throw err;
      count(err.code);
      logRejection(err.code, { voter: err.voter, err: err.message });
      return false;
    }
  };

  const handle = async (stream: Stream) => {
    let bytes: Uint8Array;
    try {
      bytes = await readMessage(stream, MAX_VIEW_BYTES, AbortSignal.timeout(READ_TIMEOUT_MS));
      await stream.close().catch(() => {});
    } catch (err) {
      stream.abort(err as Error);
      // An oversized claim is refused like a bad view; a stream cut short (a sender's deadline,
      // a link going down mid-delivery) is the network's doing: counted, logged at debug.
      if (err instanceof MessageReadError && err.failure === 'oversized') {
        count('ERR_VIEW_MALFORMED');
        logRejection('ERR_VIEW_MALFORMED', { err: err.message });
      } else {
        count('unreadable');
        log.debug({ err: (err as Error).message }, 'health view not received whole');
      }
      return;
    }
    await receive(bytes).catch((err: unknown) => log.warn({ err }, 'health view not processed'));
  };

  const targets = (z: Zone) =>
    z.members
      .filter((m) => m !== init.self)
      .flatMap((m) => {
        const peer = c.directory.peerOf(m);
        return peer ? [{ node: m, peer: peerIdFromString(peer) }] : [];
      });

  /** Members a view is still on its way to: a slow path is skipped, not piled on. */
  const sending = new Set<string>();
  const send = async (node: string, peer: PeerId, bytes: Uint8Array, signal: AbortSignal) => {
    let stream: Stream | undefined;
    sending.add(node);
    try {
      const conn = await c.connect(peer, signal);
      stream = await conn.newStream(HEALTH_PROTOCOL, { runOnLimitedConnection: true, signal });
      await writeMessage(stream, bytes, signal);
      await stream.close({ signal });
    } catch (err) {
      stream?.abort(err as Error);
      log.debug({ node, err: (err as Error).message }, 'health view not delivered');
    } finally {
      sending.delete(node);
    }
  };

  const publish = async (signed: SignedView, signal: AbortSignal) => {
    await receive(signed.bytes);
    // Delivery runs beside the next round (bounded by one period), so a slow member does not
    // delay the next probes.
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(cfg.periodMs)]);
    const due = targets(zone()).filter((t) => !sending.has(t.node));
    let next = 0;
    const worker = async () => {
      while (next < due.length && !deadline.aborted) {
        const t = due[next++] as (typeof due)[number];
        await send(t.node, t.peer, signed.bytes, deadline);
      }
    };
    void Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_PROBES, due.length) }, worker));
  };

  const prober: Prober = createProber(
    { self: init.self, peerId: init.peerId, epoch, timing: cfg },
    {
      key: c.key,
      zone,
      clock,
      log: c.log,
      publish,
      async probe(node, signal) {
        const peer = c.directory.peerOf(node);
        if (!peer) return false;
        const id = peerIdFromString(peer);
        const addrs = directAddrs(c.directory.get(node)?.record.addrs ?? []);
        const last = { mesh: false, direct: addrs.length ? false : null } as { mesh: boolean; direct: boolean | null };
        paths.set(node, last);
        const mesh = (async () => {
          await c.connect(id, signal);
          await c.ping(id, signal);
          last.mesh = true;
          return true;
        })();
        const direct = addrs.length
          ? dial(addrs, signal).then((ok) => {
              last.direct = ok;
              if (!ok) throw new Error('no direct address answered');
              return true;
            })
          : Promise.reject(new Error('no direct address'));
        // Both paths run to their end (or the deadline) so the status shows each; either answering is enough.
        const settled = Promise.allSettled([mesh, direct]).then((r) => {
          for (const [i, path] of (['mesh', 'direct'] as const).entries()) {
            if (path === 'direct' && !addrs.length) probes?.inc(1, labelsOf({ path, result: 'none' }));
            else probes?.inc(1, labelsOf({ path, result: r[i]?.status === 'fulfilled' ? 'ok' : 'failed' }));
          }
        });
        void settled;
        return Promise.any([mesh, direct]);
      },
    },
  );

  const status = (): HealthStatus => {
    const probed = (node: string) => (node !== init.self && paths.has(node) ? { paths: { ...paths.get(node)! } } : {});
    const z = zone();
    const tally = tallyZone({ zone: z, ballots: box.ballots(), now: clock.now(), windowMs: cfg.windowMs });
    return {
      zone: z.id,
      epoch,
      periodMs: cfg.periodMs,
      nodes: [...tally.values()].map((r) => ({
        node: r.node,
        outcome: r.outcome,
        for: r.supporters.length,
        against: r.accusers.length,
        voters: r.voters,
        self: r.self,
        ...probed(r.node),
      })),
      zonesFrom: cluster?.nodesSynced() ? 'nodes' : 'records',
      configFrom: cluster?.fromConfigMap() ? 'configmap' : 'file',
    };
  };

  if (c.registry) {
    // The labelled gauge is set by the unlabelled one, which the registry renders first.
    c.registry.gauge('fedmesh_mesh_health_zone_members', "Members of this node's health zone, itself included", () => {
      const nodes = status().nodes;
      for (const outcome of OUTCOMES) {
        byOutcome.set(nodes.filter((n) => n.outcome === outcome).length, { outcome });
      }
      return nodes.length;
    });
    const byOutcome = c.registry.gauge(
      'fedmesh_mesh_health_nodes',
      "Members of this node's zone by the outcome of its tally (healthy, unhealthy, unknown)",
    );
  }

  const heldViews = (): HeldViews => {
    const now = clock.now();
    const out: HeldViews = { peers: new Map() };
    for (const b of box.ballots()) {
      if (!b.bytes) continue;
      if (b.view.voter === init.self) out.own = b.bytes;
      else if (now - b.receivedAt <= cfg.windowMs) out.peers.set(b.view.voter, b.bytes);
    }
    return out;
  };

  return {
    epoch,
    receive,
    status,
    heldViews,
    reconfigure(next) {
      fileCfg = next;
      if (cluster?.fromConfigMap()) log.info('health file configuration changed; the ConfigMap one stays in force');
      else apply(next, 'file');
    },
    async start(signal) {
      await c.libp2p.handle(HEALTH_PROTOCOL, handle, {
        runOnLimitedConnection: true,
        maxInboundStreams: MAX_INBOUND_STREAMS,
      });
      log.info({ epoch, zone: zone().id, periodMs: cfg.periodMs }, 'health agent started');
      const publisher =
        toCloud && rest
          ? createViewPublisher(
              { node: init.self, namespace: toCloud.namespace, periodMs: () => cfg.periodMs },
              { rest, views: heldViews, log: c.log },
            )
          : undefined;
      try {
        await Promise.all([prober.start(signal), publisher?.start(signal), cluster?.start(signal)]);
      } finally {
        if (rest && !c.rest) rest.close();
        await c.libp2p.unhandle(HEALTH_PROTOCOL).catch(() => {});
      }
    },
  };
}
