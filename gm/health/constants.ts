/** Edge-health constants of the GM side, each with its reason. Timings are defaults of HealthInit. */

/** Node annotation: the leader's decision, canonical JSON `{"at":ms,"held":bool,"outcome":...}`. */
export const DECISION_ANNOTATION = 'fedmesh.io/health';
/** Node annotation: the tally line behind the decision (mesh/health/tally.ts `tallyAnnotation`). */
export const TALLY_ANNOTATION = 'fedmesh.io/health-tally';
/** Node annotation: the peer ID pinned for the node's health views (first own view seen). */
export const PEER_ANNOTATION = 'fedmesh.io/health-peer-id';

/** The taints the node lifecycle controller adds for a silent node; only their NoExecute form is kept off. */
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

/**
 * How often the leader re-decides every node, ms. Views arrive once per node period (5 s by
 * default); one second adds at most a fifth of a period to the decision time.
 */
export const DEFAULT_TICK_MS = 1_000;
/**
 * A view counts this long after it reached the GM, ms: three node periods plus the API write, as
 * on the nodes (mesh/health DEFAULT_WINDOW_MS), so two lost writes in a row do not drop a voter.
 */
export const DEFAULT_WINDOW_MS = 20_000;
/**
 * Largest |view time − GM wall clock|, ms. A new leader remembers no (epoch, seq): this bounds how
 * old a replayed view it accepts can be. Above the node period plus the write latency.
 */
export const DEFAULT_MAX_SKEW_MS = 15_000;
/**
 * An unchanged decision is written again this often, ms, so its `at` stays fresh for the webhook
 * (DEFAULT_STALE_MS) without one write per node per tick.
 */
export const DEFAULT_REFRESH_MS = 60_000;
/**
 * The webhook trusts a decision this long after its `at`, ms: five refreshes. A decision no leader
 * refreshes (no leader for minutes) protects nothing: Kubernetes alone decides again.
 */
export const DEFAULT_STALE_MS = 5 * 60_000;
/**
 * When no view of any member of a zone reaches the GM (every cloud link of the zone cut), each
 * member keeps its last outcome this long, ms; then unknown (Kubernetes decides). One hour: a
 * site's uplink outage is the case edge autonomy exists for, a dead site must not hold forever.
 */
export const DEFAULT_HOLD_MS = 60 * 60_000;
/** A refused view is logged at most this often per code (the counter counts each). */
export const REJECT_LOG_INTERVAL_MS = 10_000;
/** Users whose pod-status writes mark the pods of a silent node not ready (node lifecycle controller). */
export const DEFAULT_CONTROLLER_USERS = [
  'system:serviceaccount:kube-system:node-controller',
  'system:kube-controller-manager',
];
/** Field manager of the leader's Node patches. */
export const HEALTH_FIELD_MANAGER = 'fedmesh-gm-health';
