/**
 * The leader's ballot box, fed from the views ConfigMaps the node agents write
 * (mesh/health/publisher.ts). Every view is verified as on a node (mesh/health/view.ts) with two
 * differences: a voter's zone comes from its Node's labels, and its key from the pin the GM keeps
 * on its Node (`fedmesh.io/health-peer-id`), set from the first own view the node wrote in its own
 * ConfigMap (which only that node may write: deploy/health.yaml).
 *
 * A ConfigMap carries its node's own view and the peers' views it relays; relayed copies are
 * usually one period behind the voter's own, so a relayed view that is not newer is dropped
 * silently (`stale`), and an own view seen again unchanged is a `duplicate`. Everything else
 * refused is counted by code and logged at most once per code per REJECT_LOG_INTERVAL_MS.
 */
import type { KubeObject } from '../../common/kube/objects.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import {
  type BallotBox,
  createBallotBox,
  createZoneIndex,
  decodeView,
  ViewRejectedError,
  type Zone,
  type ZoneConfig,
} from '../../mesh/health/index.ts';
import {
  OWN_VIEW_KEY,
  RELAY_KEY_PREFIX,
  VIEWS_CONFIGMAP_PREFIX,
  VIEWS_NODE_LABEL,
} from '../../mesh/health/publisher.ts';
import { isNewer } from '../../mesh/health/view.ts';
import { PEER_ANNOTATION, REJECT_LOG_INTERVAL_MS } from './constants.ts';

export interface IntakeInit {
  maxSkewMs: number;
  zones: ZoneConfig;
}

export interface IntakeComponents {
  /** The Node objects (the leader's informer cache). */
  nodes(): KubeObject[];
  node(name: string): KubeObject | undefined;
  /** Pins `peerId` for `node` (a fenced Node patch); the intake trusts it from now on. */
  pin(node: string, peerId: string): Promise<void>;
  log: Logger;
  registry?: Registry;
  clock: { now(): number; wall(): number };
}

export interface Intake {
  /** Verifies and keeps the views of one views ConfigMap. */
  ingest(cm: KubeObject): Promise<void>;
  box: BallotBox;
  /** The zone of a node by the current Node labels. */
  zoneOf(name: string): Zone;
  /** Call when Node objects changed (labels, pins). */
  nodesChanged(): void;
}

export function createIntake(init: IntakeInit, c: IntakeComponents): Intake {
  const log = c.log.child({ component: 'gm.health.intake' });
  let index: ReturnType<typeof createZoneIndex> | undefined;
  const zoneOf = (name: string): Zone => {
    index ??= createZoneIndex(
      c.nodes().map((n) => ({ name: n.metadata.name, labels: n.metadata.labels })),
      init.zones,
    );
    return index.zoneOf(name);
  };
  const pins = new Map<string, string>();
  const keyOf = (name: string) => c.node(name)?.metadata.annotations?.[PEER_ANNOTATION] ?? pins.get(name);
  const box = createBallotBox({ maxSkewMs: init.maxSkewMs }, { keyOf, zoneOf, clock: c.clock });

  const counter = c.registry?.counter('fedmesh_gm_health_views_total', 'Health views read from the API, by result');
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  const refuse = (code: string, fields: Record<string, unknown>) => {
    counter?.inc(1, { result: code });
    const now = c.clock.now();
    const last = lastLogged.get(code);
    if (last && now - last.at < REJECT_LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    lastLogged.set(code, { at: now, suppressed: 0 });
    log.warn({ code, suppressed: last?.suppressed ?? 0, ...fields }, 'health view rejected');
  };

  /** The first own view of a node with no pin: pinned once its signature verifies under its own peer ID. */
  const maybePin = async (carrier: string, bytes: Uint8Array) => {
    if (keyOf(carrier) !== undefined) return;
    const { view } = decodeView(bytes);
    if (view.voter !== carrier) return;
    const probe = createBallotBox({ maxSkewMs: init.maxSkewMs }, { keyOf: () => view.peerId, zoneOf, clock: c.clock });
    await probe.accept(bytes);
    await c.pin(carrier, view.peerId);
    pins.set(carrier, view.peerId);
    log.info({ node: carrier, peerId: view.peerId }, 'health key pinned');
  };

  const one = async (
    carrier: string,
    key: string,
    text: string,
    stamps: Map<string, { epoch: number; seq: number }>,
  ) => {
    const bytes = new TextEncoder().encode(text);
    const own = key === OWN_VIEW_KEY;
    try {
      const { view } = decodeView(bytes);
      if (own && view.voter !== carrier) {
        refuse('ERR_VIEW_NOT_CARRIER', { carrier, voter: view.voter });
        return;
      }
      const last = stamps.get(view.voter);
      if (last && !isNewer(view, last)) {
        if (!own) return counter?.inc(1, { result: 'stale' });
        if (view.epoch === last.epoch && view.seq === last.seq) return counter?.inc(1, { result: 'duplicate' });
      }
      if (own) await maybePin(carrier, bytes);
      await box.accept(bytes);
      counter?.inc(1, { result: 'accepted' });
    } catch (err) {
      if (!(err instanceof ViewRejectedError)) throw err;
      refuse(err.code, { carrier, voter: err.voter, relayed: !own, err: err.message });
    }
  };

  return {
    box,
    zoneOf,
    nodesChanged() {
      index = undefined;
    },
    async ingest(cm) {
      const carrier = cm.metadata.labels?.[VIEWS_NODE_LABEL];
      if (!carrier || cm.metadata.name !== VIEWS_CONFIGMAP_PREFIX + carrier) {
        refuse('ERR_VIEWS_CONFIGMAP_NAME', { configmap: cm.metadata.name, carrier });
        return;
      }
      const data = ((cm as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
      const stamps = box.stamps();
      // Own view first: it may pin the carrier's key, and it is the freshest copy of its voter.
      const keys = Object.keys(data).sort((a, b) => (a === OWN_VIEW_KEY ? -1 : b === OWN_VIEW_KEY ? 1 : 0));
      for (const key of keys) {
        if (key !== OWN_VIEW_KEY && !key.startsWith(RELAY_KEY_PREFIX)) continue;
        await one(carrier, key, data[key] as string, stamps);
      }
    },
  };
}
