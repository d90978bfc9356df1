/** Values of the gateway, each with its reason. */

/** Longest regex accepted: Envoy refuses large RE2 programs too; 1 KiB covers any routing rule. */
export const REGEX_MAX_LENGTH = 1024;

/** Istio's default retry policy when a route sets none: 2 attempts on these conditions, 503 retriable. */
export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
export const DEFAULT_RETRIABLE_CODES: readonly number[] = [503];

/** Envoy's retry back-off: 25 ms base, fully jittered, doubling, at most 10× the base. */
export const RETRY_BASE_MS = 25;
export const RETRY_MAX_MS = 250;

/** Istio's redirect code when `redirectCode` is unset. */
export const DEFAULT_REDIRECT_CODE = 301;

/** An endpoint whose connect failed is the last choice this long (the node proxy's value). */
export const FAILURE_PENALTY_MS = 5_000;

/** Direct connects give up after this (a LAN answers in far less; then the next endpoint). */
export const CONNECT_TIMEOUT_MS = 1_000;

/** Request bodies up to this size are buffered so a retry can resend them (Envoy buffers too). */
export const RETRY_BODY_MAX_BYTES = 64 * 1024;

/** Request head limit: larger heads get 431 (Envoy's default is 60 KiB; Node's 16 KiB suits the edge). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Idle upstream keep-alive connections kept per endpoint. */
export const UPSTREAM_IDLE_SOCKETS = 16;
