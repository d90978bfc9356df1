/**
 * Choosing the path to a node: an open direct connection if there is one; otherwise a direct dial
 * (same LAN, or a public address) with a head start, then circuits through our relays nearest
 * first, staggered so that a dead relay costs a few hundred milliseconds, not a dial timeout.
 * The first connection wins. Direct dials that failed are not retried for a while, so a node
 * behind another NAT does not cost a failed dial per tunnel.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../../common/log.ts';
import { DIRECT_HEAD_START_MS } from '../constants.ts';
import { looksLikePskMismatch, MeshError } from '../errors.ts';
import type { Directory } from '../records/directory.ts';
import type { RelayManager } from '../relays/relays.ts';
import { isCircuit } from './address.ts';

/** How a connection reaches its peer. */
export type Route = { kind: 'direct'; addr: string } | { kind: 'relayed'; relay: string; relayPeer: string };

/** Backoff of direct dials to a peer after one failed. */
const DIRECT_RETRY_MS = 30_000;
/** Delay between starting successive relayed attempts. */
const RELAY_STAGGER_MS = 300;
/** Deadline of one address dial (an unreachable private address often just drops the SYN). */
const ADDRESS_DIAL_TIMEOUT_MS = 5_000;

/**
 * Dials addresses through the transport manager, in parallel; the first connection wins and the
 * other dials are aborted. Not through libp2p's dial queue: it merges concurrent dials to one peer
 * into one job, so a relayed attempt would wait behind a hanging direct one. The dial's signal
 * stays attached to the connection it creates, so it is linked to `cancel` only while dialling.
 */
async function dialEach(tm: TransportManager, addrs: Multiaddr[], cancel: AbortSignal): Promise<Connection> {
  const controllers = addrs.map(() => new AbortController());
  const timer = setTimeout(() => {
    for (const c of controllers) c.abort(new Error(`dial timed out after ${ADDRESS_DIAL_TIMEOUT_MS} ms`));
  }, ADDRESS_DIAL_TIMEOUT_MS);
  const onCancel = () => {
    for (const c of controllers) c.abort(cancel.reason);
  };
  cancel.addEventListener('abort', onCancel, { once: true });
  try {
    return await Promise.any(
      addrs.map(async (ma, i) => {
        const conn = await tm.dial(ma, { signal: (controllers[i] as AbortController).signal });
        // Unlink the winner before anything can abort it; stop the others.
        controllers[i] = new AbortController();
        for (const c of controllers) c.abort(new Error('another address won'));
        return conn;
      }),
    );
  } catch (err) {
    throw err instanceof AggregateError && err.errors.length === 1 ? err.errors[0] : err;
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener('abort', onCancel);
  }
}

export interface Dialer {
  connect(peer: PeerId, signal: AbortSignal): Promise<Connection>;
  route(conn: Connection): Route;
  /** Forget direct-dial failures (a config change or a new record may make direct work). */
  reset(peer?: string): void;
}

export function createDialer(components: {
  libp2p: Libp2p;
  transportManager: TransportManager;
  directory: Directory;
  relays: RelayManager;
  log: Logger;
}): Dialer {
  const { libp2p, transportManager, directory, relays } = components;
  const log = components.log.child({ component: 'mesh.dial' });
  const directFailedAt = new Map<string, number>();

  const route = (conn: Connection): Route => {
    const text = conn.remoteAddr.toString();
    const i = text.indexOf('/p2p-circuit');
    if (i < 0) return { kind: 'direct', addr: text };
    const relayPeer = /\/p2p\/([^/]+)$/.exec(text.slice(0, i))?.[1] ?? 'unknown';
    return { kind: 'relayed', relayPeer, relay: relays.nameOf(relayPeer) ?? directory.nameOf(relayPeer) ?? relayPeer };
  };

  const directAddrs = async (peer: PeerId): Promise<Multiaddr[]> => {
    const texts = new Set<string>();
    const name = directory.nameOf(peer.toString());
    for (const a of (name ? directory.get(name)?.record.addrs : undefined) ?? []) texts.add(a);
    try {
      for (const a of (await libp2p.peerStore.get(peer)).addresses) texts.add(a.multiaddr.toString());
    } catch {
      // Not in the peer store yet.
    }
    return [...texts]
      .filter((t) => !t.includes('/p2p-circuit'))
      .map((t) => multiaddr(t.includes('/p2p/') ? t : `${t}/p2p/${peer}`));
  };

  return {
    route,
    reset(peer) {
      if (peer) directFailedAt.delete(peer);
      else directFailedAt.clear();
    },
    async connect(peer, signal) {
      const open = libp2p.getConnections(peer).filter((c) => {
        if (c.status !== 'open') return false;
        if (!isCircuit(c)) return true;
        // A circuit whose relay we are no longer connected to is dead, even if libp2p has not
        // noticed yet: a stream opened on it would hang until its timeout.
        const r = route(c);
        const relayUp =
          r.kind === 'relayed' &&
          libp2p
            .getConnections()
            .some((x) => x.status === 'open' && !isCircuit(x) && x.remotePeer.toString() === r.relayPeer);
        if (!relayUp) c.abort(new Error('relay gone'));
        return relayUp;
      });
      const direct = open.find((c) => !isCircuit(c));
      if (direct) return direct;
      const relayed = open.find(isCircuit);
      const key = peer.toString();
      const addrs = await directAddrs(peer);
      const tryDirect =
        addrs.length > 0 && performance.now() - (directFailedAt.get(key) ?? -Infinity) > DIRECT_RETRY_MS;
      if (relayed && !tryDirect) return relayed;

      const attempts: Array<Attempt<Connection>> = [];
      if (tryDirect) {
        attempts.push({
          label: 'direct',
          delay: 0,
          run: async (s) => {
            try {
              return await dialEach(transportManager, addrs, s);
            } catch (err) {
              directFailedAt.set(key, performance.now());
              throw err;
            }
          },
        });
      }
      const head = tryDirect ? DIRECT_HEAD_START_MS : 0;
      if (relayed) attempts.push({ label: 'existing circuit', delay: head, run: async () => relayed });
      for (const [i, r] of relays.candidates().entries()) {
        if (r.peer.equals(peer)) continue;
        const circuit = r.addr.encapsulate(`/p2p-circuit/p2p/${peer}`);
        attempts.push({
          label: `relay ${r.name}`,
          delay: head + i * RELAY_STAGGER_MS,
          run: (s) => dialEach(transportManager, [circuit], s),
        });
      }
      if (attempts.length === 0) {
        throw new MeshError(
          'ERR_UNREACHABLE',
          `no direct address and no relay to reach ${directory.nameOf(key) ?? key}`,
        );
      }
      return race(
        attempts,
        signal,
        (failures) => {
          const psk = failures.some((f) => looksLikePskMismatch(f.err));
          const detail = failures.map((f) => `${f.label}: ${(f.err as Error).message}`).join('; ');
          log.debug({ peer: key, detail }, 'all paths failed');
          return new MeshError(
            psk ? 'ERR_PSK_MISMATCH' : 'ERR_UNREACHABLE',
            `cannot reach ${directory.nameOf(key) ?? key}${psk ? ' (PSK mismatch)' : ''}: ${detail}`,
          );
        },
        // A path that connected after another won is not needed: close it (unless it is the winner
        // itself, reached twice).
        (conn) => {
          if (conn !== relayed) void conn.close().catch(() => {});
        },
      );
    },
  };
}

/**
 * Starts each attempt after its delay — or as soon as every earlier one failed — and resolves with
 * the first success; losers are aborted.
 */
interface Attempt<T> {
  label: string;
  delay: number;
  run: (s: AbortSignal) => Promise<T>;
}

function race<T>(
  attempts: Array<Attempt<T>>,
  signal: AbortSignal,
  onAllFailed: (failures: Array<{ label: string; err: unknown }>) => Error,
  onSurplus: (v: T) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const ac = new AbortController();
    const failures: Array<{ label: string; err: unknown }> = [];
    const timers: NodeJS.Timeout[] = [];
    let started = 0;
    let settled = false;
    let winner: T | undefined;
    const finish = () => {
      settled = true;
      for (const t of timers) clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      if (settled) return;
      finish();
      ac.abort();
      reject(signal.reason ?? new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const launch = (a: { label: string; run: (s: AbortSignal) => Promise<T> }) => {
      a.run(AbortSignal.any([ac.signal, signal])).then(
        (v) => {
          if (settled) {
            if (v !== winner) onSurplus(v);
            return;
          }
          winner = v;
          finish();
          ac.abort();
          resolve(v);
        },
        (err: unknown) => {
          if (settled) return;
          failures.push({ label: a.label, err });
          if (failures.length === attempts.length) {
            finish();
            reject(onAllFailed(failures));
          } else if (failures.length === started) {
            start(started); // everything started so far failed: do not wait for the next delay
          }
        },
      );
    };
    /** Starts every attempt up to index i that has not started yet. */
    const start = (i: number) => {
      while (!settled && started <= i && started < attempts.length) launch(attempts[started++] as Attempt<T>);
    };
    attempts.forEach((a, i) => {
      timers.push(setTimeout(() => start(i), a.delay));
    });
    if (signal.aborted) onAbort();
  });
}
