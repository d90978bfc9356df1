/** The two time formats the Kubernetes API writes, from one place. */

/** `metav1.Time`: RFC 3339 in whole seconds, UTC (`2026-12-07T15:04:05Z`). */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `metav1.MicroTime`: RFC 3339 with exactly six fractional digits, UTC, as Leases and Events store it. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
