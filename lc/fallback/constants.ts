/** Defaults of the edge API fallback, each with its reason. */

/** KubeEdge edgecore's metaServer (`modules.metaManager.metaServer.server`), plain HTTP on loopback. */
export const DEFAULT_EDGE_API = 'http://127.0.0.1:10550';

/**
 * Server-side watch timeout range (s), randomised so that watches do not all end together. Shorter
 * than the GM's informers (5–10 min): an edge endpoint is a cache that may itself reconnect, and a
 * periodic fresh watch bounds how long a stuck one can hide.
 */
export const WATCH_TIMEOUT_MIN_S = 240;
export const WATCH_TIMEOUT_MAX_S = 300;

/**
 * A watch that sends nothing, not even a bookmark, for this long is ended and the kind listed
 * again (ms). A kube-apiserver sends a bookmark about once a minute to watchers that ask
 * (allowWatchBookmarks), so this never fires there; edgecore's metaServer sends none, ignores the
 * watch's version (every watch starts with all its objects) and never sends DELETED for an object
 * that lost the node's label, so there the relist costs what a re-watch would and drops objects
 * that moved away; yurthub offline holds watches open and empty, and its relist is local.
 */
export const WATCH_IDLE_MS = 90_000;

/**
 * A watch that ends (or is refused with 410) sooner than this after it started (ms) is restarted
 * only after the backoff: an endpoint that closes every watch at once, or a 410 storm, would
 * otherwise become a request loop. client-go's reflector backs off its restarts the same way.
 */
export const WATCH_MIN_MS = 1000;

/** Retry after an error (ms), doubling up to the max with jitter; 401/403 wait at least AUTH_RETRY_MS. */
export const FALLBACK_BACKOFF_MIN_MS = 250;
export const FALLBACK_BACKOFF_MAX_MS = 10_000;
/** A refused credential is not fixed by retrying fast; the token file may be rotated meanwhile. */
export const AUTH_RETRY_MS = 5000;

/** Deadline of one list page or one status write (ms). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** List page size: bounds one response for a node with many objects. */
export const LIST_PAGE_SIZE = 500;

/** Largest response or watch line accepted (bytes): a CR is at most ~1.5 MiB (etcd's limit); a page of them more. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
export const MAX_WATCH_LINE_BYTES = 8 * 1024 * 1024;

/** Outbox reports written per pass, and the wait between passes when writes fail (ms). */
export const WRITE_BATCH = 64;
export const WRITE_RETRY_MS = 2000;

/** Conflicts retried per status write (another writer between our GET and PUT). */
export const WRITE_ATTEMPTS = 5;
