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
