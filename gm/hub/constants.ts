/** Defaults of the LC hub, each with its reason. */

/**
 * Largest frame an LC may send (ws `maxPayload`), 1 MiB: an upstream report is a status document of a
 * few KiB; a bigger frame is a bug or an attack, and ws closes it with 1009 before buffering more.
 */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Connection limits of the hub's listener (common/net/guard.ts). 20 000 in all: twice the 10k LCs a
 * replica is benchmarked with, so one replica can take a dead peer's LCs. 1 000 per source address:
 * an edge site's nodes often share one NAT address, while one host opening thousands of sockets is
 * an attack. 10 s to finish the upgrade (auth included; the LC gives up after 5 s anyway): idle and
 * slow-header connections cost at most that long.
 */
export const DEFAULT_HUB_LIMITS = { maxConnections: 20_000, maxConnectionsPerSource: 1000, handshakeTimeoutMs: 10_000 };

/** An upgraded fedmesh connection must send hello within 10 s (the LC sends it at once on open). */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;

/**
 * Accept queue of the hub's socket. When a replica dies its LCs all reconnect to the others at once;
 * with Node's default of 511 the queue overflows, the kernel drops SYNs and those LCs retry only
 * after TCP's 1 s initial retransmission timeout. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/**
 * Node options a GM replica runs with (deploy/gm.yaml sets them as NODE_OPTIONS; the hub benchmark
 * uses the same). V8's young generation grows to 16 MiB semi-spaces by default and stays there; at
 * 4 MiB a replica holding 10k LC connections measured ~385 MiB RSS instead of ~476 MiB, for about
 * the same CPU per connection (npm run bench -- hub).
 */
export const GM_NODE_OPTIONS = '--max-semi-space-size=4';

/**
 * fedmesh heartbeats: a ping after 10 s of silence; 30 s without any frame closes with 4408 (three
 * missed pings). A crashed replica is noticed at once (its sockets close); these catch half-open
 * links (a cut uplink, a frozen peer) while costing 10k idle LCs only 1k small frames a second.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;

/**
 * Report window granted to an LC in `welcome.credit`: enough to keep the API writes of one node
 * pipelined (one object at a time each) without letting one node queue unbounded work.
 */
export const REPORT_WINDOW = 64;

/** Concurrent status writes per connection; writes to the same object are always serialised. */
export const WRITES_PER_CONNECTION = 8;

/** GET + PUT attempts of one status write on 409 Conflict (Sedna retries 3 times; a busy object needs a few more). */
export const STATUS_WRITE_ATTEMPTS = 6;

/** Per-attempt deadline of a status write: an API server that does not answer in 10 s is unavailable. */
export const STATUS_WRITE_TIMEOUT_MS = 10_000;

/**
 * Bytes queued on a socket above which the hub stops sending until it drains: a slow or stalled LC
 * then costs the hub at most this much memory; its changes wait as dirty keys (coalesced per object).
 */
export const SEND_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** How often a paused send loop looks at the socket again (ws has no 'drain' event on the WebSocket). */
export const SEND_RETRY_MS = 20;

/** A fedmesh stream is kept this long after its connection ended, so a quick reconnect resumes without a snapshot. */
export const STREAM_RESUME_TTL_MS = 60_000;

/**
 * Connection Lease (`fedmesh-lc-<node>`): renewed every 60 s, valid for 180 s (three missed
 * renewals). 10k LCs on a replica cost ~170 Lease writes a second; `--lc-lease-renew` trades that
 * against how fast a dead replica's Leases look stale.
 */
export const CONNECTION_LEASE_RENEW_MS = 60_000;
export const CONNECTION_LEASE_DURATION_S = 180;

/** Lease writes in flight at once: a reconnect storm of thousands of LCs must not flood the API server. */
export const LEASE_WRITE_CONCURRENCY = 8;

/** A new connection's Lease is written after this delay, so a reconnect storm serves LCs before it registers them. */
export const LEASE_WRITE_DELAY_MS = 2000;

/** Status writes in flight at once on a replica: a thousand LCs reporting together must not open a thousand API connections. */
export const STATUS_WRITE_CONCURRENCY = 32;

/** Label on connection Leases, so replicas watch only those. */
export const CONNECTION_LEASE_LABEL = 'fedmesh.io/lc-connection';
export const CONNECTION_LEASE_PREFIX = 'fedmesh-lc-';

/** TokenReview results are reused this long (keyed by a hash of the token): a reconnect storm costs one review per LC. */
export const TOKEN_REVIEW_CACHE_MS = 60_000;
/** TokenReviews in flight at once. */
export const TOKEN_REVIEW_CONCURRENCY = 16;

/**
 * A locally verified token is confirmed by TokenReview 3–6 s after connecting (or at its first
 * report): after a replica dies, its LCs are all served before their thousands of reviews start.
 * Until then a session gets its objects, but its reports wait.
 */
export const CONFIRM_DELAY_MS = 3000;

/** The API server's token signing keys are re-read this often (they rotate rarely; a new key falls back to TokenReview meanwhile). */
export const JWKS_REFRESH_MS = 10 * 60_000;

/** Audience LC tokens must carry: a token minted for the API server (or anything else) is not accepted. */
export const TOKEN_AUDIENCE = 'fedmesh';

/** Watch requests end after about 5 min (plus jitter) and are reopened, as client-go's reflector does. */
export const WATCH_TIMEOUT_S = 300;

/** Backoff of the cache's list/watch after an error: 200 ms doubling to 10 s. */
export const CACHE_BACKOFF_MIN_MS = 200;
export const CACHE_BACKOFF_MAX_MS = 10_000;

/** A Sedna LC gets a WebSocket ping this often; one not answered by the next sweep closes the connection. */
export const SEDNA_PING_INTERVAL_MS = 15_000;

/** The `Node-Name` upgrade header a stock Sedna LC sends. */
export const NODE_NAME_HEADER = 'node-name';
