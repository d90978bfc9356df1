/**
 * Edge-health constants, each with the reason for its value. Wire limits are part of the view
 * format: changing one means a new view version.
 */

/**
 * Probe period. Kubernetes marks a silent node NotReady after its node-monitor grace period (40 s
 * up to 1.31, 50 s since); the peers' verdict must be settled before that, and with
 * DEFAULT_FAILURE_THRESHOLD periods to turn a neighbour unhealthy plus one period to publish, 5 s
 * gives a verdict about 20 s after a cut. SuperEdge's edge-health probes every 10 s.
 */
export const DEFAULT_PERIOD_MS = 5_000;
/** Deadline of one probe: a mesh ping through a relay answers well under 1 s; shorter than the period. */
export const DEFAULT_TIMEOUT_MS = 2_000;
/**
 * How long a received view counts in a tally (judged on the receiver's monotonic clock from when it
 * arrived). Three periods: a voter whose publication is lost twice in a row still counts.
 */
export const DEFAULT_WINDOW_MS = 3 * DEFAULT_PERIOD_MS;
/**
 * Largest difference between a view's signing time and the receiver's wall clock. Epochs stop
 * replays to a verifier that remembers the voter; a verifier that does not (a GM replica that just
 * became leader) relies on this bound, so it is kept below one decision (threshold × period) while
 * tolerating an NTP-less edge clock drifting for a few days.
 */
export const DEFAULT_MAX_SKEW_MS = 10_000;
/**
 * Consecutive failed probes before a neighbour is judged unhealthy (Kubernetes probes' default
 * failureThreshold): one lost packet must not flip a verdict. One success makes it healthy again.
 */
export const DEFAULT_FAILURE_THRESHOLD = 3;
/** Label grouping nodes into zones (SuperEdge's is `superedge.io/topology-zone`). */
export const DEFAULT_ZONE_LABEL = 'fedmesh.io/topology-zone';
/** Zones off by default, as in TKE: every node probes every other until an operator groups them. */
export const DEFAULT_ZONES_ENABLED = false;

/** Probes in flight at once per node: bounds sockets and CPU in a 500-member zone. */
export const MAX_CONCURRENT_PROBES = 64;
/** Verdicts one view may carry: the largest zone a view can describe (the benchmark goes to 500). */
export const MAX_VIEW_VERDICTS = 1_024;
/** Largest signed view on the wire: MAX_VIEW_VERDICTS verdicts of a maximal name, base64 in an envelope. */
export const MAX_VIEW_BYTES = 512 * 1024;
/** Zone id of a view when zones are off (not a valid label value, so it never collides with one). */
export const ALL_NODES_ZONE = '*';
