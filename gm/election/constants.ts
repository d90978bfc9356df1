/** client-go's JitterFactor: a standby waits retryPeriod × (1 + rand × 1.2) between polls. */
export const JITTER_FACTOR = 1.2;

/** Defaults of client-go / KubeEdge CloudCore (15 s / 10 s / 2 s). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

/** Pause before re-opening a failed Lease watch; polls cover the gap meanwhile. */
export const WATCH_RETRY_MS = 500;

/** A Lease watch is re-opened at least this often (server-side timeout) to keep it fresh. */
export const WATCH_TIMEOUT_S = 300;

/** Upper bound on waiting for leader-only runnables to stop before the lease is released. */
export const STOP_RUNNABLES_MAX_MS = 10_000;

/** Deadline of the release write on shutdown; past it the lease simply expires. */
export const RELEASE_TIMEOUT_MS = 2_000;
