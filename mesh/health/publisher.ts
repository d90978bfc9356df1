/**
 * Views to the cloud: every period the node writes the signed views it holds — its own latest and
 * the fresh ones it received from its zone peers — to one ConfigMap of its own in the fedmesh
 * namespace, `fedmesh-health-<node>`, where the GM leader reads them (gm/health). Passing peers'
 * views on is what lets a node's verdicts reach the GM when that node's own cloud link is cut, or
 * when the voters' links are: any member with a link carries them. The bytes go unchanged (the GM
 * verifies every view under its voter's pinned key), so a carrier can withhold or delay a view,
 * never alter or forge one. One writer per ConfigMap; a ValidatingAdmissionPolicy
 * (deploy/health.yaml) lets a node's pod-bound token write only its own.
 *
 * Layout (docs/adr/0006-health-views-to-the-cloud.md): label `fedmesh.io/health-node=<node>`,
 * `data.view` = own view, `data["relay.<voter>"]` = a peer's view, each the view's wire text.
 */
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { HeldViews } from './agent.ts';

/** ConfigMap name prefix; the node name follows. */
export const VIEWS_CONFIGMAP_PREFIX = 'fedmesh-health-';
/** Label carrying the writer's node name (the GM watches ConfigMaps with it). */
export const VIEWS_NODE_LABEL = 'fedmesh.io/health-node';
/** Data key of the node's own view. */
export const OWN_VIEW_KEY = 'view';
/** Data key prefix of a relayed peer view (the voter's name follows). */
export const RELAY_KEY_PREFIX = 'relay.';
/** Field manager of the node's writes (server-side apply). */
export const VIEWS_FIELD_MANAGER = 'fedmesh-mesh-health';
/**
 * Largest data written, bytes: a ConfigMap holds at most 1 MiB; the rest is headroom for metadata.
 * Peers' views beyond it are left out (own view first, then peers by name).
 */
export const MAX_PUBLISHED_BYTES = 900 * 1024;
/** One write may take this long before the next period tries again. */
const WRITE_TIMEOUT_MS = 10_000;

export interface ViewPublisherInit {
  /** This node's name. */
  node: string;
  /** Namespace of the views ConfigMaps (the GM's `--health-namespace`). */
  namespace: string;
  /** Write period, ms (the health period: one fresh view per period reaches the GM). */
  periodMs: () => number;
}

export interface ViewPublisherComponents {
  rest: KubeRest;
  views(): HeldViews;
  log: Logger;
}

export interface ViewPublisher {
  /** Writes every period until `signal` aborts; a failed write is logged and retried next period. */
  start(signal: AbortSignal): Promise<void>;
  /** One write now; false when there was nothing new to write. */
  publishOnce(signal: AbortSignal): Promise<boolean>;
}

/** The ConfigMap body for `views` (bounded by MAX_PUBLISHED_BYTES). */
export function viewsConfigMap(node: string, namespace: string, views: HeldViews): Record<string, unknown> {
  const data: Record<string, string> = {};
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  let size = 0;
  if (views.own) {
    data[OWN_VIEW_KEY] = text(views.own);
    size += views.own.length;
  }
  for (const voter of [...views.peers.keys()].sort()) {
    const bytes = views.peers.get(voter) as Uint8Array;
    if (voter === node || size + bytes.length > MAX_PUBLISHED_BYTES) continue;
    data[RELAY_KEY_PREFIX + voter] = text(bytes);
    size += bytes.length;
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: VIEWS_CONFIGMAP_PREFIX + node, namespace, labels: { [VIEWS_NODE_LABEL]: node } },
    data,
  };
}

export function createViewPublisher(init: ViewPublisherInit, c: ViewPublisherComponents): ViewPublisher {
  const log = c.log.child({ component: 'mesh.health.publisher' });
  const path = `/api/v1/namespaces/${init.namespace}/configmaps/${VIEWS_CONFIGMAP_PREFIX}${init.node}`;
  let last = '';
  let failing = false;
  const publishOnce = async (signal: AbortSignal): Promise<boolean> => {
    const body = viewsConfigMap(init.node, init.namespace, c.views());
    const text = JSON.stringify(body);
    if (text === last) return false;
    await c.rest.request('PATCH', path, {
      body,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: VIEWS_FIELD_MANAGER, force: true },
      signal: AbortSignal.any([signal, AbortSignal.timeout(WRITE_TIMEOUT_MS)]),
    });
    last = text;
    return true;
  };
  return {
    publishOnce,
    async start(signal) {
      while (!signal.aborted) {
        try {
          await publishOnce(signal);
          if (failing) log.info('health views reach the API again');
          failing = false;
        } catch (err) {
          if (signal.aborted) break;
          // A cut cloud link fails every period: say so once, not every time.
          if (!failing) log.warn({ err: (err as Error).message }, 'health views not written to the API; retrying');
          failing = true;
        }
        await sleep(init.periodMs(), signal);
      }
    },
  };
}
