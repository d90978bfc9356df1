/**
 * Is this node publicly reachable? Peers dial us back on a fresh connection and say whether it
 * worked (`/fedmesh/reach/1.0.0`) — the AutoNAT idea, done by us because @libp2p/autonat 3 cannot
 * answer it on private meshes: it marks every private address (RFC 1918, and 198.18.0.0/15 of
 * the test network) as verified without asking anyone, and its servers refuse to dial private
 * addresses. A fedmesh mesh is private by construction (PSK), and "public" here means "reachable
 * by the other mesh nodes", whatever the address range.
 *
 * Request: our direct addresses (`/ip4|ip6/…/tcp/…`). The peer dials only an address whose host is
 * the one it sees our connection come from (so it cannot be used to dial third parties), with a
 * fresh connection authenticated as us, and answers:
 *   ok       it connected;
 *   nat      it sees us at another IP than any we listed (we are behind a NAT);
 *   failed   the host matched but the dial failed (firewall, filtering);
 *   relayed  it only knows us through a relay (no verdict).
 * Verdict: public when at least REACH_CONFIRMATIONS peers answered `ok` recently and none
 * answered `nat` or `failed` (a node that LAN peers can dial but an outside peer sees behind a NAT
 * is not public).
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import {
  REACH_CONFIRMATIONS,
  REACH_DIAL_TIMEOUT_MS,
  REACH_MAX_ADDRS,
  REACH_PROTOCOL,
  REACH_RECHECK_MS,
  REACH_VERDICT_TTL_MS,
} from '../constants.ts';
import { readMessage, writeMessage } from '../stream-io.ts';
import { hostOf, isCircuit } from '../transport/address.ts';

export type ReachAnswer = 'ok' | 'nat' | 'failed' | 'relayed';

export interface ReachVerdict {
  peer: string;
  answer: Exclude<ReachAnswer, 'relayed'>;
  /** performance.now() of the answer. */
  at: number;
  /** The IP the peer sees us at (for `nat`). */
  observed?: string;
}

export interface Judgement {
  reachable: boolean;
  /** Fresh `ok` answers. */
  ok: number;
  /** Fresh `nat` or `failed` answers. */
  against: number;
}

/** The verdict over the answers peers gave (pure, for tests). */
export function judge(
  verdicts: Iterable<ReachVerdict>,
  now: number,
  opts: { required?: number; ttlMs?: number } = {},
): Judgement {
  const required = opts.required ?? REACH_CONFIRMATIONS;
  const ttl = opts.ttlMs ?? REACH_VERDICT_TTL_MS;
  let ok = 0;
  let against = 0;
  for (const v of verdicts) {
    if (now - v.at > ttl) continue;
    if (v.answer === 'ok') ok++;
    else against++;
  }
  return { reachable: ok >= required && against === 0, ok, against };
}

const isDirectTcp = (ma: Multiaddr) => {
  const names = ma.getComponents().map((c) => c.name);
  return (names[0] === 'ip4' || names[0] === 'ip6') && names[1] === 'tcp' && !names.includes('p2p-circuit');
};

export interface ReachabilityStatus extends Judgement {
  answers: Array<{ peer: string; answer: string; ageS: number; observed?: string }>;
}

export interface Reachability {
  reachable(): boolean;
  status(): ReachabilityStatus;
  /** Serves dial-back requests and asks peers until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
}

export interface ReachabilityInit {
  /** Ask peers only while this is true (requests from peers are always answered). */
  active: () => boolean;
  /** Called when the verdict flips. */
  onChange: (reachable: boolean) => void;
}

export interface ReachabilityComponents {
  libp2p: Libp2p;
  transportManager: TransportManager;
  log: Logger;
}

/** Period of the ask loop; each peer is asked at most once per REACH_RECHECK_MS. */
const TICK_MS = 1_000;
/** Peers asked at once. */
const CONCURRENT_ASKS = 3;

export function createReachability(init: ReachabilityInit, components: ReachabilityComponents): Reachability {
  const { libp2p, transportManager } = components;
  const log = components.log.child({ component: 'mesh.reach' });
  const verdicts = new Map<string, ReachVerdict>();
  const asked = new Map<string, number>();
  const inFlight = new Set<string>();
  let reachable = false;

  /** Our direct addresses, routable ones first (a loopback address never matches anyway). */
  const ownAddrs = (): string[] =>
    libp2p
      .getMultiaddrs()
      .map((ma) => ma.decapsulateCode(421))
      .filter(isDirectTcp)
      .sort((a, b) => Number(hostOf(a)?.startsWith('127.')) - Number(hostOf(b)?.startsWith('127.')))
      .slice(0, REACH_MAX_ADDRS)
      .map(String);

  /** Server side: dial the requester back on an address at the IP its connection comes from. */
  const dialBack = async (conn: Connection, addrs: string[]): Promise<{ answer: ReachAnswer; observed?: string }> => {
    if (isCircuit(conn)) return { answer: 'relayed' };
    const seen = hostOf(conn.remoteAddr);
    const matching = addrs.flatMap((a) => {
      try {
        const ma = multiaddr(a);
        return isDirectTcp(ma) && hostOf(ma) === seen ? [ma] : [];
      } catch {
        return [];
      }
    });
    if (matching.length === 0) return { answer: 'nat', observed: seen };
    for (const ma of matching.slice(0, 2)) {
      try {
        // A fresh connection (the transport manager, not libp2p.dial, which would reuse ours),
        // authenticated as the requester by the /p2p/ component.
        const c = await transportManager.dial(ma.encapsulate(`/p2p/${conn.remotePeer}`), {
          signal: AbortSignal.timeout(REACH_DIAL_TIMEOUT_MS),
        });
        void c.close().catch(() => {});
        return { answer: 'ok', observed: seen };
      } catch (err) {
        log.debug(
          { peer: conn.remotePeer.toString(), addr: ma.toString(), err: (err as Error).message },
          'dial-back failed',
        );
      }
    }
    return { answer: 'failed', observed: seen };
  };

  const handle = async (stream: Stream, conn: Connection) => {
    try {
      const text = new TextDecoder().decode(await readMessage(stream, 4096, AbortSignal.timeout(5_000)));
      const req = JSON.parse(text) as { addrs?: unknown };
      const addrs = Array.isArray(req.addrs)
        ? req.addrs.filter((a): a is string => typeof a === 'string' && a.length < 300).slice(0, REACH_MAX_ADDRS)
        : [];
      const answer = await dialBack(conn, addrs);
      await writeMessage(stream, new TextEncoder().encode(JSON.stringify(answer)));
      await stream.close();
    } catch (err) {
      stream.abort(err as Error);
      log.debug({ err: (err as Error).message, peer: conn.remotePeer.toString() }, 'reachability request failed');
    }
  };

  const evaluate = () => {
    const j = judge(verdicts.values(), performance.now());
    if (j.reachable === reachable) return;
    reachable = j.reachable;
    const answers = [...verdicts.values()].map((v) => ({ peer: v.peer, answer: v.answer, observed: v.observed }));
    log.info(
      { reachable, ok: j.ok, against: j.against, answers },
      reachable ? 'public reachability confirmed' : 'public reachability lost',
    );
    init.onChange(reachable);
  };

  const ask = async (peer: PeerId, conn: Connection) => {
    const key = peer.toString();
    inFlight.add(key);
    asked.set(key, performance.now());
    const signal = AbortSignal.timeout(REACH_DIAL_TIMEOUT_MS * 3);
    let stream: Stream | undefined;
    try {
      const addrs = ownAddrs();
      if (addrs.length === 0) return;
      stream = await conn.newStream(REACH_PROTOCOL, { signal });
      await writeMessage(stream, new TextEncoder().encode(JSON.stringify({ addrs })), signal);
      const reply = JSON.parse(new TextDecoder().decode(await readMessage(stream, 1024, signal))) as {
        answer?: string;
        observed?: string;
      };
      await stream.close().catch(() => {});
      const answer = reply.answer;
      if (answer === 'ok' || answer === 'nat' || answer === 'failed') {
        verdicts.set(key, { peer: key, answer, at: performance.now(), observed: reply.observed });
        log.debug({ peer: key, answer, observed: reply.observed }, 'reachability answer');
      }
    } catch (err) {
      stream?.abort(err as Error);
      log.debug({ peer: key, err: (err as Error).message }, 'reachability question failed');
    } finally {
      inFlight.delete(key);
      evaluate();
    }
  };

  const tick = async () => {
    const now = performance.now();
    for (const [k, v] of verdicts) if (now - v.at > REACH_VERDICT_TTL_MS) verdicts.delete(k);
    if (!init.active()) return evaluate();
    const due: Connection[] = [];
    const seen = new Set<string>();
    for (const conn of libp2p.getConnections()) {
      const key = conn.remotePeer.toString();
      if (conn.status !== 'open' || isCircuit(conn) || seen.has(key) || inFlight.has(key)) continue;
      seen.add(key);
      if (now - (asked.get(key) ?? -Infinity) < REACH_RECHECK_MS) continue;
      const protocols = await libp2p.peerStore.get(conn.remotePeer).then(
        (p) => p.protocols,
        () => [] as string[],
      );
      if (protocols.includes(REACH_PROTOCOL)) due.push(conn);
    }
    for (const conn of due.slice(0, Math.max(0, CONCURRENT_ASKS - inFlight.size))) void ask(conn.remotePeer, conn);
    evaluate();
  };

  return {
    reachable: () => reachable,
    status() {
      const now = performance.now();
      return {
        ...judge(verdicts.values(), now),
        answers: [...verdicts.values()].map((v) => ({
          peer: v.peer,
          answer: v.answer,
          ageS: Math.round((now - v.at) / 100) / 10,
          observed: v.observed,
        })),
      };
    },
    async start(signal) {
      await libp2p.handle(REACH_PROTOCOL, handle, { maxInboundStreams: 8 });
      try {
        while (!signal.aborted) {
          await tick().catch((err: unknown) => log.debug({ err }, 'reachability tick failed'));
          await sleep(TICK_MS, signal).catch(() => {});
        }
      } finally {
        await libp2p.unhandle(REACH_PROTOCOL).catch(() => {});
      }
    },
  };
}
