/**
 * Hole punching: DCUtR (`/libp2p/dcutr`, the libp2p spec's messages and roles) over a relayed
 * connection, then a TCP simultaneous open from the fixed dial port (libp2p.ts `dialPort`).
 *
 * Why it can work: every outbound dial leaves from the same local port, so an endpoint-independent
 * NAT gives this node one public ip:port — the one its relays observe (identify `observedAddr`).
 * Two nodes exchange those addresses through the relay and dial each other at the same moment;
 * each dial's SYN opens the way for the other's. A symmetric NAT maps every destination to a new
 * port: relays then observe different ports, this node knows it cannot be punched, says so in the
 * log, and stays on the relay.
 *
 * Roles, as in the spec: the node that received the relayed connection (B) sends CONNECT with its
 * addresses and measures the round trip; the other (A) answers CONNECT with its own; B sends SYNC
 * and dials after half a round trip (as the multistream/noise responder), A dials on SYNC. On
 * success the relayed connection is closed and tunnel sessions resume on the direct one.
 */
import type { Connection, IdentifyResult, Libp2p, Stream } from '@libp2p/interface';
import type { TransportManager } from '@libp2p/interface-internal';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import type { Directory } from '../records/directory.ts';
import { readMessage, varint } from '../stream-io.ts';
import { isCircuit } from './address.ts';

export const DCUTR_PROTOCOL = '/libp2p/dcutr';
const CONNECT = 100;
const SYNC = 300;
const MAX_MESSAGE = 4 * 1024;
const ATTEMPTS = 3;
const STEP_TIMEOUT_MS = 5_000;
/** The punch dial waits past one SYN retransmission (1 s): the first SYN may meet a closed NAT. */
const DIAL_TIMEOUT_MS = 4_000;

export type NatMapping = 'unknown' | 'endpoint-independent' | 'symmetric';

/** HolePunch { required Type type = 1; repeated bytes ObsAddrs = 2; } with a varint length prefix. */
export function encodeHolePunch(type: number, addrs: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x08), varint(type)];
  for (const a of addrs) parts.push(Uint8Array.of(0x12), varint(a.length), a);
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

export function decodeHolePunch(bytes: Uint8Array): { type: number; addrs: Uint8Array[] } {
  let type = 0;
  const addrs: Uint8Array[] = [];
  let i = 0;
  const readVarint = () => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = bytes[i++];
      if (b === undefined) throw new Error('truncated varint');
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    throw new Error('varint too long');
  };
  while (i < bytes.length) {
    const tag = readVarint();
    if (tag === 0x08) type = readVarint();
    else if (tag === 0x12) {
      const len = readVarint();
      if (i + len > bytes.length) throw new Error('truncated field');
      addrs.push(bytes.subarray(i, i + len));
      i += len;
    } else throw new Error(`unexpected field tag ${tag}`);
  }
  return { type, addrs };
}

export interface HolePuncherInit {
  /** The fixed dial port (libp2p.ts); without one there is nothing to punch with. */
  dialPort?: number;
}

export interface HolePuncher {
  /** What the relays tell us about our NAT. */
  mapping(): { mapping: NatMapping; observed: string[] };
  /** True for a direct connection that a hole punch made (path choice prefers LAN-direct ones). */
  isPunched(conn: Connection): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createHolePuncher(
  init: HolePuncherInit,
  components: { libp2p: Libp2p; transportManager: TransportManager; directory: Directory; log: Logger },
): HolePuncher {
  const { libp2p, transportManager, directory } = components;
  const log = components.log.child({ component: 'mesh.punch' });
  /** Our public ip:port as each directly connected peer sees it (dials from the fixed port only). */
  const observed = new Map<string, string>();
  let lastMapping: NatMapping = 'unknown';
  const punching = new Set<string>();
  const punched = new WeakSet<Connection>();

  const mapping = (): { mapping: NatMapping; observed: string[] } => {
    const all = [...new Set(observed.values())];
    const ports = new Set(all.map((a) => a.split(':')[1]));
    // Two observers are needed to tell: one port seen by all of them means one mapping.
    const m: NatMapping = observed.size < 2 ? 'unknown' : ports.size === 1 ? 'endpoint-independent' : 'symmetric';
    return { mapping: m, observed: all };
  };

  /** Addresses worth giving a peer to dial: what our relays observe (empty behind a symmetric NAT). */
  const punchAddrs = (): Multiaddr[] => {
    const m = mapping();
    if (m.mapping === 'symmetric') return [];
    return m.observed.map((a) => {
      const [ip, port] = a.split(':');
      return multiaddr(`/ip4/${ip}/tcp/${port}`);
    });
  };

  const onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    const { connection, observedAddr, protocols } = evt.detail;
    if (!isCircuit(connection) && connection.direction === 'outbound' && observedAddr && init.dialPort !== undefined) {
      const m = /^\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(observedAddr.toString());
      if (m) {
        observed.set(connection.remotePeer.toString(), `${m[1]}:${m[2]}`);
        const now = mapping();
        if (now.mapping !== lastMapping) {
          lastMapping = now.mapping;
          log.info({ mapping: now.mapping, observed: now.observed }, 'nat mapping');
        }
      }
    }
    if (isCircuit(connection) && connection.direction === 'inbound' && protocols.includes(DCUTR_PROTOCOL)) {
      void upgrade(connection);
    }
  };

  const nodeOf = (c: Connection) => directory.nameOf(c.remotePeer.toString()) ?? c.remotePeer.toString();

  /**
   * Dials the transport directly: libp2p 3.3's dial queue drops the `initiator` option, and the
   * side that dials "as responder" must run multistream and noise as the responder, or both
   * sides of the one simultaneous-open TCP connection act as initiators and noise fails.
   */
  const dial = async (c: Connection, addrs: Uint8Array[], initiator: boolean): Promise<Connection> => {
    const targets = addrs.map((a) => multiaddr(a)).map((a) => a.encapsulate(`/p2p/${c.remotePeer}`));
    const errors: unknown[] = [];
    for (const ma of targets) {
      // The signal stays attached to the new connection: it must only ever abort the dial itself.
      const ac = new AbortController();
      const timer = setTimeout(
        () => ac.abort(new Error(`punch dial timed out after ${DIAL_TIMEOUT_MS} ms`)),
        DIAL_TIMEOUT_MS,
      );
      try {
        return await transportManager.dial(ma, { signal: ac.signal, initiator } as Parameters<
          TransportManager['dial']
        >[1]);
      } catch (err) {
        errors.push(err);
      } finally {
        clearTimeout(timer);
      }
    }
    throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'every punch address failed');
  };

  const succeeded = async (relayed: Connection, direct: Connection, started: number) => {
    punched.add(direct);
    log.info(
      {
        peer: relayed.remotePeer.toString(),
        node: nodeOf(relayed),
        addr: direct.remoteAddr.toString(),
        ms: Math.round(performance.now() - started),
      },
      'hole punch succeeded; relayed connection replaced by a direct one',
    );
    await relayed.close().catch((err: unknown) => relayed.abort(err as Error));
  };

  const hasDirect = (c: Connection) =>
    libp2p.getConnections(c.remotePeer).some((x) => x.status === 'open' && !isCircuit(x));

  /** B: we received the relayed connection. */
  const upgrade = async (relayed: Connection) => {
    const key = relayed.remotePeer.toString();
    // One punch per peer at a time, in either role: two at once would race for the same port pair.
    if (init.dialPort === undefined || punching.has(key) || hasDirect(relayed)) return;
    const node = nodeOf(relayed);
    const m = mapping();
    if (m.mapping === 'symmetric') {
      log.info(
        { node, reason: 'symmetric NAT', observed: m.observed },
        'hole punching not possible; staying on the relay',
      );
      return;
    }
    punching.add(key);
    const started = performance.now();
    let reason = 'unknown';
    try {
      for (let attempt = 1; attempt <= ATTEMPTS && relayed.status === 'open'; attempt++) {
        let stream: Stream | undefined;
        try {
          const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
          stream = await relayed.newStream(DCUTR_PROTOCOL, { runOnLimitedConnection: true, signal });
          const t0 = performance.now();
          stream.send(
            encodeHolePunch(
              CONNECT,
              punchAddrs().map((a) => a.bytes),
            ),
          );
          const theirs = decodeHolePunch(await readMessage(stream, MAX_MESSAGE, signal, 'varint'));
          const rtt = performance.now() - t0;
          if (theirs.type !== CONNECT) throw new Error('expected CONNECT');
          if (theirs.addrs.length === 0) {
            reason = 'peer has no punchable address (symmetric NAT or none observed)';
            break;
          }
          stream.send(encodeHolePunch(SYNC, []));
          await sleep(rtt / 2);
          const direct = await dial(relayed, theirs.addrs, false);
          await succeeded(relayed, direct, started);
          return;
        } catch (err) {
          reason = (err as Error).message;
          log.debug({ node, attempt, err: reason }, 'hole punch attempt failed');
        } finally {
          stream?.abort(new Error('done'));
        }
      }
      log.info({ node, reason }, 'hole punching failed; staying on the relay');
    } finally {
      punching.delete(key);
    }
  };

  /** A: the peer that received our relayed connection asks us to punch. */
  const handle = async (stream: Stream, relayed: Connection) => {
    const started = performance.now();
    const node = nodeOf(relayed);
    const key = relayed.remotePeer.toString();
    if (punching.has(key)) {
      // Both sides hold an inbound relayed connection and both started as B: the lower peer ID
      // keeps its attempt, the other yields.
      if (libp2p.peerId.toString() < key) {
        stream.abort(new Error('punch already in progress'));
        return;
      }
    }
    punching.add(key);
    try {
      const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
      const theirs = decodeHolePunch(await readMessage(stream, MAX_MESSAGE, signal, 'varint'));
      if (theirs.type !== CONNECT) throw new Error('expected CONNECT');
      const mine = punchAddrs();
      if (mine.length === 0) {
        const m = mapping();
        log.info(
          { node, reason: m.mapping === 'symmetric' ? 'symmetric NAT' : 'no observed address', observed: m.observed },
          'hole punching not possible; staying on the relay',
        );
      }
      stream.send(
        encodeHolePunch(
          CONNECT,
          mine.map((a) => a.bytes),
        ),
      );
      const sync = decodeHolePunch(await readMessage(stream, MAX_MESSAGE, signal, 'varint'));
      if (sync.type !== SYNC || theirs.addrs.length === 0 || mine.length === 0) return;
      const direct = await dial(relayed, theirs.addrs, true);
      await succeeded(relayed, direct, started);
    } catch (err) {
      log.debug({ node, err: (err as Error).message }, 'hole punch (responder) failed');
    } finally {
      punching.delete(key);
      stream.abort(new Error('done'));
    }
  };

  return {
    mapping,
    isPunched: (conn) => punched.has(conn),
    async start() {
      libp2p.addEventListener('peer:identify', onIdentify);
      await libp2p.handle(DCUTR_PROTOCOL, handle, { runOnLimitedConnection: true });
    },
    async stop() {
      libp2p.removeEventListener('peer:identify', onIdentify);
      await libp2p.unhandle(DCUTR_PROTOCOL);
    },
  };
}
