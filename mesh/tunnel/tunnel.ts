/**
 * Tunnels: byte streams to (node, host:port) over `/fedmesh/tunnel/1.0.0`, each carried by a
 * TunnelSession so it survives the death of the path below it (see session/session.ts).
 *
 * Initiator: resolve the node's peer ID, connect (direct, else nearest relay), send `open`, wait
 * for the reply, run the session. When the path dies it reconnects — through whatever path is
 * best now — and sends `resume` with the bytes it holds; both sides replay from there.
 * Responder: check the header (schema, size, this node's name, target allow-list), dial the
 * target, answer, splice. Every refusal is logged with its reason and the requesting peer.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { sleep } from '../../common/async.ts';
import type { Logger } from '../../common/log.ts';
import type { Counter, Histogram } from '../../common/metrics.ts';
import { MAX_HEADER_BYTES, OPEN_ATTEMPTS, TUNNEL_PROTOCOL } from '../constants.ts';
import { MeshError, type RefusalReason, TunnelRefusedError } from '../errors.ts';
import type { Directory } from '../records/directory.ts';
import type { RecordService } from '../records/records.ts';
import { MessageReadError, readMessage, writeMessage } from '../stream-io.ts';
import type { Dialer, Route } from '../transport/dial.ts';
import { connectUdp, spliceDatagrams } from './datagram.ts';
import { decodeReply, decodeRequest, encodeJson, type TunnelReply } from './protocol.ts';
import { type SessionInit, type SessionStats, TunnelSession } from './session/session.ts';
import type { TargetPolicy } from './targets.ts';

/** Streams one connection may carry per direction (libp2p's default of 32 is far too low for a proxy). */
const MAX_TUNNEL_STREAMS = 4096;
const HEADER_TIMEOUT_MS = 10_000;
const TARGET_DIAL_TIMEOUT_MS = 5_000;
const RESUME_ATTEMPT_TIMEOUT_MS = 2_500;

export interface TunnelInfo {
  readonly id: string;
  readonly node: string;
  readonly target: string;
  readonly direction: 'outbound' | 'inbound';
  /** The path the session runs on now (undefined while it is between paths). */
  route?: Route;
  /** How many times the session moved to a new path. */
  resumes: number;
  /** Session counters (bytes written, acknowledged, received, ...). */
  stats?: SessionStats;
}

/** The Duplex of a tunnel, with its live description. */
export type MeshTunnel = Duplex & { readonly tunnel: TunnelInfo };

export interface OpenTunnelOptions {
  node: string;
  host: string;
  port: number;
  /** `udp`: the responder sends each length-prefixed datagram (datagram.ts) to host:port over UDP. Default TCP. */
  proto?: 'udp';
  signal?: AbortSignal;
}

export interface TunnelService {
  open(opts: OpenTunnelOptions): Promise<MeshTunnel>;
  list(): TunnelInfo[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface TunnelServiceInit {
  name: string;
  policy: () => TargetPolicy;
  session?: Omit<SessionInit, 'id' | 'onDetached' | 'onClosed'>;
  openTimeoutMs?: number;
}

export interface TunnelServiceComponents {
  libp2p: Libp2p;
  dialer: Dialer;
  records: RecordService;
  directory: Directory;
  log: Logger;
  metrics?: { refused: Counter; resumes: Counter; failover: Histogram };
}

function connectTarget(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(
      () => socket.destroy(new Error(`connect timeout after ${TARGET_DIAL_TIMEOUT_MS} ms`)),
      TARGET_DIAL_TIMEOUT_MS,
    );
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Joins a TCP socket and a session: ends propagate as half-closes, errors as resets. */
export function splice(socket: Socket, session: TunnelSession): void {
  const d = session.duplex;
  socket.pipe(d);
  d.pipe(socket);
  socket.on('error', (err) => session.abort(err));
  // A failed session resets the target's connection: a FIN would pass for the end of the data.
  d.on('error', () => socket.resetAndDestroy());
}

export function createTunnelService(init: TunnelServiceInit, components: TunnelServiceComponents): TunnelService {
  const { libp2p, dialer, records, directory } = components;
  const log = components.log.child({ component: 'mesh.tunnel' });
  const inbound = new Map<string, { session: TunnelSession; peer: string; info: TunnelInfo }>();
  const outbound = new Map<string, { session: TunnelSession; info: TunnelInfo }>();
  const openTimeout = init.openTimeoutMs ?? 10_000;

  const newStream = async (conn: Connection, signal: AbortSignal): Promise<Stream> =>
    conn.newStream(TUNNEL_PROTOCOL, { runOnLimitedConnection: true, signal, maxOutboundStreams: MAX_TUNNEL_STREAMS });

  /** Connect, open a stream, send a header, read the reply; errors name the step and the route. */
  const request = async (peer: PeerId, header: object, signal: AbortSignal) => {
    let step = 'connect';
    let conn: Connection | undefined;
    let stream: Stream | undefined;
    try {
      conn = await dialer.connect(peer, signal);
      step = 'open stream';
      stream = await newStream(conn, signal);
      step = 'header';
      await writeMessage(stream, encodeJson(header), signal);
      step = 'reply';
      const reply = decodeReply(await readMessage(stream, MAX_HEADER_BYTES, signal));
      if (!reply) throw new MeshError('ERR_SESSION_PROTOCOL', 'malformed tunnel reply');
      return { conn, stream, reply };
    } catch (err) {
      stream?.abort(err as Error);
      const e = err as Error & { step?: string; route?: Route };
      e.step = step;
      if (conn) e.route = dialer.route(conn);
      throw err;
    }
  };

  const refusal = (reply: TunnelReply & { ok: false }) =>
    new TunnelRefusedError(reply.reason, `tunnel refused: ${reply.reason}: ${reply.message}`);

  /** Reconnects a detached outbound session until it is attached again or over. */
  const resumeLoop = async (session: TunnelSession, peer: PeerId, info: TunnelInfo, lostAt: number) => {
    let backoff = 50;
    while (session.state === 'open' && !session.attached) {
      try {
        // Short: a hung attempt (a path that died under us) must not hold the tunnel for long.
        const signal = AbortSignal.timeout(RESUME_ATTEMPT_TIMEOUT_MS);
        const { conn, stream, reply } = await request(
          peer,
          { v: 1, op: 'resume', session: info.id, received: session.received },
          signal,
        );
        if (!reply.ok) {
          stream.abort(new Error('resume refused'));
          session.abort(new MeshError('ERR_SESSION_LOST', `resume refused: ${reply.reason}`));
          return;
        }
        session.attach(stream, reply.received);
        info.route = dialer.route(conn);
        info.resumes++;
        const ms = performance.now() - lostAt;
        components.metrics?.resumes.inc();
        components.metrics?.failover.observe(ms / 1000);
        log.info(
          {
            tunnel: info.id,
            node: info.node,
            route: info.route,
            afterMs: Math.round(ms),
            received: session.received,
            written: session.written,
          },
          'tunnel resumed',
        );
        return;
      } catch (err) {
        const e = err as Error & { step?: string; route?: Route };
        log.info({ tunnel: info.id, step: e.step, route: e.route, err: e.message }, 'tunnel resume attempt failed');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1_000);
      }
    }
  };

  const handle = async (stream: Stream, conn: Connection) => {
    const peer = conn.remotePeer.toString();
    const from = directory.nameOf(peer);
    const refuse = async (reason: RefusalReason, message: string) => {
      components.metrics?.refused.inc(1, { reason });
      log.warn({ code: 'ERR_TUNNEL_REFUSED', reason, peer, from, detail: message }, 'tunnel request refused');
      try {
        await writeMessage(stream, encodeJson({ v: 1, ok: false, reason, message: message.slice(0, 256) }));
        await stream.close();
      } catch {
        stream.abort(new Error('refused'));
      }
    };
    let bytes: Uint8Array;
    try {
      bytes = await readMessage(stream, MAX_HEADER_BYTES, AbortSignal.timeout(HEADER_TIMEOUT_MS));
    } catch (err) {
      const oversized = err instanceof MessageReadError && err.failure === 'oversized';
      await refuse(oversized ? 'oversized' : 'malformed', (err as Error).message);
      return;
    }
    const req = decodeRequest(bytes);
    if (!req) {
      await refuse('malformed', 'header is not a valid open or resume request');
      return;
    }
    if (req.op === 'resume') {
      const entry = inbound.get(req.session);
      if (!entry || entry.peer !== peer) {
        await refuse('unknown-session', `no session ${req.session} of this peer`);
        return;
      }
      await writeMessage(stream, encodeJson({ v: 1, ok: true, received: entry.session.received }));
      entry.session.attach(stream, req.received);
      entry.info.route = dialer.route(conn);
      entry.info.resumes++;
      log.info({ tunnel: req.session, from, route: entry.info.route }, 'tunnel resumed by peer');
      return;
    }
    if (req.node !== init.name) {
      await refuse('unknown-node', `this is ${init.name}, not ${req.node}`);
      return;
    }
    if (!init.policy().allows(req.host, req.port)) {
      await refuse('target-not-allowed', `${req.host}:${req.port} is not in the tunnel allow-list`);
      return;
    }
    if (inbound.has(req.session)) {
      await refuse('malformed', 'session id in use');
      return;
    }
    let socket: Socket | Awaited<ReturnType<typeof connectUdp>>;
    try {
      socket = req.proto === 'udp' ? await connectUdp(req.host, req.port) : await connectTarget(req.host, req.port);
    } catch (err) {
      await refuse('dial-failed', `${req.host}:${req.port}: ${(err as Error).message}`);
      return;
    }
    const info: TunnelInfo = {
      id: req.session,
      node: from ?? peer,
      target: `${req.proto === 'udp' ? 'udp:' : ''}${req.host}:${req.port}`,
      direction: 'inbound',
      route: dialer.route(conn),
      resumes: 0,
    };
    const session = new TunnelSession({
      id: req.session,
      ...init.session,
      onDetached: (err) => {
        info.route = undefined;
        log.info({ tunnel: info.id, from, err: err.message }, 'tunnel path lost; waiting for the peer to resume');
      },
      onClosed: (err) => {
        inbound.delete(req.session);
        if (err) log.info({ tunnel: info.id, from, err: err.message }, 'tunnel failed');
        else log.debug({ tunnel: info.id, from }, 'tunnel closed');
      },
    });
    inbound.set(req.session, { session, peer, info });
    try {
      await writeMessage(stream, encodeJson({ v: 1, ok: true, received: 0 }));
    } catch (err) {
      session.abort(err as Error);
      if ('destroy' in socket) socket.destroy();
      else socket.close();
      return;
    }
    session.attach(stream, 0);
    if ('destroy' in socket) splice(socket, session);
    else spliceDatagrams(socket, session.duplex);
    log.info({ tunnel: info.id, from, target: info.target, route: info.route }, 'tunnel accepted');
  };

  return {
    list: () => [...outbound.values(), ...inbound.values()].map((e) => ({ ...e.info, stats: e.session.stats() })),
    async open(opts) {
      const signal = AbortSignal.any([opts.signal ?? new AbortController().signal, AbortSignal.timeout(openTimeout)]);
      const peer = await records.resolve(opts.node, signal);
      // A path can die between being chosen and carrying the request (a relay killed a moment ago
      // whose circuit still looks open): nothing has flowed yet, so try again, fresh id and path.
      let id = '';
      let opened: Awaited<ReturnType<typeof request>> | undefined;
      for (let attempt = 1, backoff = 50; !opened; attempt++, backoff *= 2) {
        id = randomBytes(16).toString('hex');
        try {
          opened = await request(
            peer,
            {
              v: 1,
              op: 'open',
              session: id,
              node: opts.node,
              host: opts.host,
              port: opts.port,
              ...(opts.proto === 'udp' ? { proto: 'udp' as const } : {}),
            },
            signal,
          );
        } catch (err) {
          if (signal.aborted || attempt >= OPEN_ATTEMPTS) throw err;
          const e = err as Error & { step?: string; route?: Route };
          log.info({ node: opts.node, step: e.step, route: e.route, err: e.message }, 'tunnel open attempt failed');
          await sleep(backoff);
        }
      }
      const { conn, stream, reply } = opened;
      if (!reply.ok) {
        void stream.close().catch(() => {});
        throw refusal(reply);
      }
      const info: TunnelInfo = {
        id,
        node: opts.node,
        target: `${opts.proto === 'udp' ? 'udp:' : ''}${opts.host}:${opts.port}`,
        direction: 'outbound',
        route: dialer.route(conn),
        resumes: 0,
      };
      let resuming = false;
      const startResume = () => {
        if (resuming || session.state !== 'open' || session.attached) return;
        resuming = true;
        const lostAt = performance.now();
        void resumeLoop(session, peer, info, lostAt).finally(() => {
          resuming = false;
          // The new path may have died already: go again.
          startResume();
        });
      };
      const session: TunnelSession = new TunnelSession({
        id,
        ...init.session,
        onDetached: (err) => {
          info.route = undefined;
          log.info({ tunnel: id, node: opts.node, err: err.message }, 'tunnel path lost; resuming');
          startResume();
        },
        onClosed: (err) => {
          outbound.delete(id);
          if (err) log.info({ tunnel: id, node: opts.node, err: err.message }, 'tunnel failed');
        },
      });
      outbound.set(id, { session, info });
      session.attach(stream, reply.received);
      log.info({ tunnel: id, node: opts.node, target: info.target, route: info.route }, 'tunnel opened');
      return Object.assign(session.duplex, { tunnel: info });
    },
    async start() {
      await libp2p.handle(TUNNEL_PROTOCOL, handle, {
        runOnLimitedConnection: true,
        maxInboundStreams: MAX_TUNNEL_STREAMS,
        maxOutboundStreams: MAX_TUNNEL_STREAMS,
      });
    },
    async stop() {
      await libp2p.unhandle(TUNNEL_PROTOCOL);
      for (const e of [...inbound.values(), ...outbound.values()]) {
        e.session.abort(new MeshError('ERR_SESSION_LOST', 'mesh node stopping'));
      }
    },
  };
}
