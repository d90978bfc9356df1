/**
 * The direct probe: a plain TCP dial to a member's own listen address, beside the mesh ping.
 *
 * The address is the one in the member's signed mesh record (its direct `/ip4|ip6/…/tcp/…`
 * multiaddrs, relayed ones skipped), not the Node's InternalIP: the record is signed by the
 * member's own key (nobody else can point the probe elsewhere), it names the port the member's
 * mesh process listens on (an InternalIP has no port of ours), and it is there without cluster
 * access. The dial goes through no relay and no open libp2p connection, so it answers the
 * question the mesh ping cannot: is the member reachable on the network, not just through the mesh.
 */
import { connect } from 'node:net';

/** Addresses tried per member and probe: a record lists a few (one per interface at most). */
export const MAX_DIRECT_ADDRS = 3;

export interface DirectAddr {
  host: string;
  port: number;
}

const DIRECT_TCP = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d{1,5})(\/p2p\/[^/]+)?$/;

/** Direct TCP addresses of a record's multiaddrs, loopback, unspecified and relayed ones left out. */
export function directAddrs(addrs: readonly string[]): DirectAddr[] {
  const out: DirectAddr[] = [];
  for (const a of addrs) {
    const m = DIRECT_TCP.exec(a);
    if (!m) continue;
    const host = m[2] as string;
    const port = Number(m[3]);
    if (port < 1 || port > 65_535) continue;
    // Loopback and unspecified addresses lead to the prober's own host, not the member.
    if (/^(127\.|0\.0\.0\.0$)/.test(host) || host === '::1' || host === '::') continue;
    if (out.some((d) => d.host === host && d.port === port)) continue;
    out.push({ host, port });
    if (out.length === MAX_DIRECT_ADDRS) break;
  }
  return out;
}

/** Resolves once a TCP connection to `addr` is established (then closed); rejects on error or abort. */
export function dialTcp(addr: DirectAddr, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = connect({ host: addr.host, port: addr.port });
    const done = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => done(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}

/** True when any of `addrs` accepts a TCP connection before `signal` aborts; false when none does (or there are none). */
export async function dialAny(addrs: readonly DirectAddr[], signal: AbortSignal): Promise<boolean> {
  if (addrs.length === 0) return false;
  try {
    await Promise.any(addrs.map((a) => dialTcp(a, signal)));
    return true;
  } catch {
    // Every address refused or timed out: the AggregateError says nothing more than "no".
    return false;
  }
}
