/** Limits and fixed values of both wire dialects, each with its reason. */

/** Longest object or node name: Kubernetes names are DNS-1123 subdomains, at most 253 characters. */
export const MAX_NAME_LENGTH = 253;

/** Longest namespace: Kubernetes namespaces are DNS-1123 labels, at most 63 characters. */
export const MAX_NAMESPACE_LENGTH = 63;

/** Longest free-text field (node, versions, ids, nack reason); keeps error paths and logs bounded. */
export const MAX_TEXT_LENGTH = 1024;

/**
 * Largest single credit grant. A grant is "frames", not bytes; a million frames is already far beyond
 * any sane window, and the bound keeps the running total well inside Number.MAX_SAFE_INTEGER.
 */
export const MAX_CREDIT_GRANT = 1_000_000;

/** Heartbeat bounds (ms): under 100 ms is a busy loop, over 10 min hides dead peers behind NAT timeouts. */
export const MIN_HEARTBEAT_MS = 100;
export const MAX_HEARTBEAT_MS = 600_000;

/**
 * Default frame limit a hub can pass as `maxBytes`: 4 MiB holds the largest CR Kubernetes stores
 * (etcd's default request limit is 1.5 MiB) even after Sedna's base64 inflates it by a third.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * Deepest JSON nesting accepted (arrays and objects, counting the frame itself). CRs nest about a
 * dozen levels (pod templates); V8 parses a million levels but JSON.stringify then overflows the
 * stack, so a hostile frame would blow up later, far from the edge.
 */
export const MAX_JSON_DEPTH = 100;
