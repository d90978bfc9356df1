/** Defaults of the LC, each with its reason. */

/** Downstream window offered in hello: enough for a snapshot of a busy node to stream without stalls. */
export const DOWNSTREAM_WINDOW = 256;

/** Dial backoff after a whole round of endpoints failed: 250 ms doubling to 15 s (Sedna's LC retries every 5 s, forever). */
export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 15_000;

/** After 4401/4403 (credentials refused) wait at least this long: retrying fast cannot fix a credential. */
export const AUTH_RETRY_MS = 5000;

/** Upgrade plus welcome must complete within this time, or the endpoint counts as failed. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** Largest downstream frame accepted: a CR can be 1.5 MiB (etcd's limit); room for JSON overhead. */
export const MAX_DOWNSTREAM_FRAME_BYTES = 8 * 1024 * 1024;

/** How many outbox entries one send pass looks at (the window is far smaller; blocked keys are skipped). */
export const OUTBOX_SCAN = 1000;

/** First retry delay of a report nacked as retryable, doubling per nack up to REPORT_RETRY_MAX_MS. */
export const REPORT_RETRY_MIN_MS = 200;
export const REPORT_RETRY_MAX_MS = 10_000;

/** Where Sedna's LC listens for workers (BIND_PORT=9100). */
export const DEFAULT_HTTP_LISTEN = '0.0.0.0:9100';

/** The projected ServiceAccount token (audience fedmesh) of the LC DaemonSet (deploy/lc.yaml). */
export const DEFAULT_TOKEN_FILE = '/var/run/secrets/fedmesh/token';

/** State directory (SQLite database), on the node's disk so it survives pod restarts. */
export const DEFAULT_STATE_DIR = '/var/lib/fedmesh-lc';

/** Kinds whose reports replace each other (only the latest status matters); the others append conditions. */
export const COALESCED_KINDS: ReadonlySet<string> = new Set(['Dataset', 'JointInferenceService']);
