/** Defaults of the LC, each with its reason. */

/** Downstream window offered in hello: enough for a snapshot of a busy node to stream without stalls. */
export const DOWNSTREAM_WINDOW = 256;

/** Dial backoff, before every reconnect: 250 ms doubling to 15 s (Sedna's LC retries every 5 s, forever). */
export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 15_000;

/**
 * A connection that lasted this long after its welcome proved the replica serves us: only then is
 * the backoff reset, and only then may a 1001/1006 end move to the next endpoint without waiting.
 * A GM that welcomes and then closes (4400 on a poison report, a replica crash-looping at start)
 * does so within milliseconds, so such loops keep climbing the backoff. One GM heartbeat interval.
 */
export const STABLE_CONNECTION_MS = 10_000;

/** After 4401/4403 (credentials refused) wait at least this long: retrying fast cannot fix a credential. */
export const AUTH_RETRY_MS = 5000;

/** Upgrade plus welcome must complete within this time, or the endpoint counts as failed. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** Largest downstream frame accepted: a CR can be 1.5 MiB (etcd's limit); room for JSON overhead. */
export const MAX_DOWNSTREAM_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * Largest upstream report frame, the GM's default frame limit (gm/hub/constants.ts
 * DEFAULT_MAX_FRAME_BYTES, `fedmesh gm --max-frame-bytes`): a bigger one closes the link with 1009.
 * Checked when a worker posts (413) and again before sending; also the worker API's body limit.
 */
export const MAX_REPORT_BYTES = 1024 * 1024;

/**
 * Outbox bounds. Genuine reports are a few KiB and a job reports a few times per stage, so days
 * offline fit easily; a worker posting in a loop is refused (429 for its object, 507 when the
 * whole outbox is full) instead of filling the node's disk. 10 000 reports drain in well under a
 * minute at the hub's ~400 applied reports per second; 64 MiB holds them at ~6 KiB each.
 */
export const MAX_OUTBOX_REPORTS = 10_000;
export const MAX_OUTBOX_BYTES = 64 * 1024 * 1024;
/** Per object: room for days of one job's reports, and no single object can take the whole outbox. */
export const MAX_OUTBOX_REPORTS_PER_OBJECT = 256;

/** Dead letters kept (newest first): enough to diagnose, bounded so a poison source cannot fill the disk. */
export const MAX_DEAD_LETTERS = 1000;

/** A dead letter keeps its status JSON up to this size (for diagnosis); bigger ones keep only their size. */
export const DEAD_LETTER_STATUS_BYTES = 16 * 1024;

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

/**
 * Kinds whose reports replace each other in the outbox, last write wins: only the latest status
 * matters. Dataset: the sample count. JointInferenceService: the GM writes the latest metrics.
 * FederatedLearningJob: the GM writes the latest model metrics and a Training condition per round,
 * so offline, rounds reported between two deliveries collapse into the last (docs/lc.md).
 * IL/LL reports are condition transitions (the GM appends each one): never coalesced.
 */
export const COALESCED_KINDS: ReadonlySet<string> = new Set([
  'Dataset',
  'JointInferenceService',
  'FederatedLearningJob',
]);

/** Where the node's root filesystem is mounted (Sedna's ROOTFS_MOUNT_DIR; the DaemonSet mounts hostPath `/`). */
export const DEFAULT_ROOTFS = '/rootfs';

/** Dataset index files are re-read this often (Sedna's MonitorDataSourceIntervalSeconds), besides on change. */
export const DATASET_PERIOD_MS = 60_000;

/**
 * A change seen by fs.watch is read this long after the last event: a writer appending many lines
 * fires many events, and one read after them counts them all, well within the one-second target.
 */
export const DATASET_WATCH_DEBOUNCE_MS = 100;

/** SigV4 signing region when a credential names none (S3-compatible servers accept any; AWS's default). */
export const S3_REGION = 'us-east-1';

/** One S3 GET of an index file, connect to last byte: a stalled server must not stall the next period. */
export const S3_TIMEOUT_MS = 30_000;

/**
 * LC-side link heartbeat: a WebSocket ping after 200 ms without any frame from the GM, and the link
 * dropped after 800 ms of silence. A path cut by dropped packets (no RST, no FIN) is noticed within
 * 0.8–0.9 s, leaving room in the 1.5 s target to reach the next path and receive a change there.
 * The GM's ws answers pings itself (no GM change). Cost on an idle link: about 5 pings and 5 pongs
 * a second, a few hundred bytes per second with TCP/IP headers (docs/lc.md has the measured figure).
 */
export const LINK_HEARTBEAT_INTERVAL_MS = 200;
export const LINK_HEARTBEAT_TIMEOUT_MS = 800;

/** While on a worse path, the better ones are probed (a real upgrade with the LC's credential) this often. */
export const PATH_PROBE_PERIOD_MS = 5000;

/**
 * A GM dial not past its upgrade after this long lets the next path try meanwhile: a route that
 * drops packets would otherwise hold the LC for the whole handshake timeout (5 s) at start-up or
 * during a probe. A healthy upgrade takes a few round trips, well under a second even on slow links.
 */
export const PATH_DIAL_GRACE_MS = 1000;

/**
 * A probe's upgrade must answer within this: a probe stuck on a still-cut path would otherwise
 * delay the return by up to the handshake timeout; with it the return takes at most a probe period
 * plus this. A healthy upgrade is a few round trips (raise it on links slower than ~300 ms RTT).
 */
export const PATH_PROBE_TIMEOUT_MS = 1000;
