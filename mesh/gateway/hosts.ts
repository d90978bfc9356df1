/**
 * Host names as Istio reads them: Gateway selection by labels, a server's `namespace/host`
 * entries, short names made fully qualified, wildcard matching and intersection, and the
 * virtual host chosen for a request's Host (Envoy's order: exact, longest wildcard suffix, `*`).
 */

/** A Gateway applies to this gateway when every selector label is among ours (empty: all). */
export function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** One `hosts` entry of a Gateway server: `ns/host`, `./host` (the Gateway's namespace), `*` namespace or none. */
export interface ServerHost {
  /** Namespace a VirtualService must be in; undefined: any. */
  namespace?: string;
  host: string;
}

export function parseServerHost(entry: string, gatewayNamespace: string): ServerHost {
  const slash = entry.indexOf('/');
  if (slash < 0) return { host: entry.toLowerCase() };
  const ns = entry.slice(0, slash);
  const host = entry.slice(slash + 1).toLowerCase();
  if (ns === '*') return { host };
  return { namespace: ns === '.' ? gatewayNamespace : ns, host };
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A host Istio accepts: `*`, `*.suffix`, or a DNS name (labels of letters, digits and dashes). */
export function validHost(host: string): boolean {
  if (host === '*') return true;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (!name || name.length > 253) return false;
  return name.split('.').every((l) => l.length <= 63 && LABEL.test(l));
}

/** Istio's short name rule: a name without a dot is `<name>.<namespace>.svc.<domain>`; others as written. */
export function qualify(host: string, namespace: string, domain: string): string {
  const h = host.toLowerCase();
  if (h === '*' || h.includes('.') || h.includes(':')) return h;
  return `${h}.${namespace}.svc.${domain}`;
}

/** Does the name `host` (maybe `*` or `*.x`) match a concrete request host `name`? */
export function hostMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return name.length > pattern.length - 1 && name.endsWith(pattern.slice(1));
  return pattern === name;
}

/**
 * The part of two host patterns both cover (Istio binds a VirtualService host to a server host
 * this way): the more specific of the two when one covers the other, else undefined.
 */
export function intersect(a: string, b: string): string | undefined {
  if (a === b) return a;
  if (covers(a, b)) return b;
  if (covers(b, a)) return a;
  return undefined;
}

/** Every name `inner` matches, `outer` matches too. */
function covers(outer: string, inner: string): boolean {
  if (outer === '*') return true;
  if (!outer.startsWith('*.')) return false;
  const suffix = outer.slice(1);
  return inner.endsWith(suffix) && inner.length > suffix.length;
}

/** The request's Host without its port, lower case ('' when absent). */
export function requestHost(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Of `patterns`, the one Envoy's virtual host selection picks for `name`: an exact name first,
 * then the longest matching `*.suffix`, then `*`.
 */
export function bestHost(patterns: Iterable<string>, name: string): string | undefined {
  let best: string | undefined;
  let rank = -1;
  for (const p of patterns) {
    if (!hostMatches(p, name)) continue;
    const r = p === name ? Number.MAX_SAFE_INTEGER : p === '*' ? 0 : p.length;
    if (r > rank) {
      best = p;
      rank = r;
    }
  }
  return best;
}
