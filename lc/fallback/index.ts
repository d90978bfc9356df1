/**
 * lc/fallback: the LC's last path to the cloud, used only while no GM path is up (lc/paths decides).
 * It lists and watches this node's Sedna objects through a Kubernetes-API-speaking endpoint on or
 * near the node (KubeEdge's edgecore metaServer by default, OpenYurt's yurthub, or the cloud API
 * server over another route), selecting them by the per-node label the GM leader maintains
 * (`targets.fedmesh.io/<node>`, gm/operators/targets), applies them to the LC store by
 * resourceVersion, and writes waiting outbox reports as status through the same endpoint where it
 * accepts writes. docs/lc.md, "Fallback: list-watch through the edge API".
 *
 * Wiring (lc/lc.ts and the CLI, owned by the path manager):
 *   CLI flags → FallbackInit:
 *     --edge-api URL               → url            (default http://127.0.0.1:10550, metaServer)
 *     --edge-api-token-file FILE   → tokenFile      (default: none; the LC's --token-file is for the GM)
 *     --edge-api-ca-file FILE      → caFile         (https only; default: the system roots)
 *     --edge-api-insecure          → insecure       (https without verifying; off unless asked)
 *     --edge-api-writes auto|on|off → writes        (default auto)
 *     --node                       → node
 *   Components: the LC's store, log, metrics registry, `applied(ops)` (host.applied, so managers see
 *   the changes), and `maxReportBytes`-checked outbox entries are already in the store.
 *   Start `run(signal)` when no GM path is up; abort the signal when a GM path is back. `run`
 *   resolves once it has fully stopped; calling it again later continues from the store (the
 *   version rules in LcStore.apply make the switch safe both ways). `kick()` after a new report.
 */
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { Kind } from '../../common/wire/index.ts';
import type { AppliedOp, LcStore } from '../store/types.ts';

export { targetLabel, targetSelector } from '../../common/sedna/targets.ts';
export { FallbackError } from './errors.ts';
export { createFallback } from './fallback.ts';

/** Whether outbox reports are written through the edge API. */
export type EdgeApiWrites = 'auto' | 'on' | 'off';

export interface FallbackInit {
  /** This node's name: only objects labelled for it are listed. */
  node: string;
  /** Base URL of the edge API endpoint, http:// or https://. Default DEFAULT_EDGE_API (`http://127.0.0.1:10550`, edgecore's metaServer). */
  url?: string;
  /** File holding a bearer token, re-read on every request; undefined: no Authorization header. */
  tokenFile?: string;
  /** PEM CA bundle for an https:// endpoint; undefined: the system roots. */
  caFile?: string;
  /** https:// without verifying the server certificate. Default false; only when asked explicitly. */
  insecure?: boolean;
  /**
   * `auto` (default): write status through the endpoint and, when it refuses writes (403, 405, 501),
   * stop writing until the next run (reports wait in the outbox for a GM). `on`: keep trying (every
   * WRITE_RETRY_MS). `off`: never write.
   */
  writes?: EdgeApiWrites;
  /** Only this namespace; default all namespaces. */
  namespace?: string;
  /** Server-side watch timeout range (s); randomised per watch. Default 240–300 s. */
  watchTimeoutMinS?: number;
  watchTimeoutMaxS?: number;
  /**
   * A watch that delivers nothing (not even a bookmark) for this long is restarted (ms). Default
   * WATCH_IDLE_MS (90 s): bookmarks come about once a minute from a kube-apiserver.
   */
  watchIdleMs?: number;
  /** Retry backoff after an error (ms). Defaults 250 / 10 000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Per-request deadline for lists and writes (ms). Default 30 000. */
  requestTimeoutMs?: number;
}

export interface FallbackComponents {
  store: LcStore;
  log: Logger;
  /** Metrics (fedmesh_lc_fallback_*); undefined: none registered. */
  registry?: Registry;
  /** Told the ops the store actually applied (after the version rules), e.g. the manager host. */
  applied?(ops: AppliedOp[]): void;
  /** Randomness for jitter (tests). Default Math.random. */
  random?: () => number;
}

/** What the fallback is doing, for the LC's status endpoint and tests. */
export interface FallbackStatus {
  /** True between `run` starting and its signal aborting. */
  running: boolean;
  /** Kinds listed at least once in this run. */
  syncedKinds: Kind[];
  /** True once every kind was listed in this run. */
  synced: boolean;
  /** Objects and bytes received from the endpoint (lists and watch events; since creation). */
  objectsReceived: number;
  bytesReceived: number;
  /** Objects received that carried no label for this node (the endpoint ignored the selector), dropped. */
  objectsFilteredOut: number;
  /** True once the endpoint was seen ignoring the label selector (filtered here instead). */
  selectorIgnored: boolean;
  /** Full lists done, relists after 410 Gone, watches restarted for idling. */
  lists: number;
  gone: number;
  idleRestarts: number;
  /** Status writes through the endpoint: `on`; `off` (auto: the endpoint refused writes); `disabled` (`writes: 'off'`). */
  writes: 'on' | 'off' | 'disabled';
  /** Outbox reports written through the endpoint (since creation). */
  reportsWritten: number;
  /**
   * Reports left in the outbox for a GM at the last pass: their object is not held here, or a write
   * they need is not this node's to make (e.g. an FL job's aggregation Model).
   */
  reportsWaitingForGm: number;
  /** The last error (code and message), cleared by the next success. */
  lastError?: { code: string; message: string };
}

export interface Fallback {
  /** Lists, watches and writes until `signal` aborts; resolves once fully stopped. */
  run(signal: AbortSignal): Promise<void>;
  status(): FallbackStatus;
  /** A report entered the outbox: write it soon (no-op while not running). */
  kick(): void;
}
