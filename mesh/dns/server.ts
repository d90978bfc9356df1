/**
 * The listeners: UDP and TCP on each listen address (the same port for both), the per-source
 * rate limit in front of the handler, and for TCP the listener guard (connections in total and
 * per source, a deadline for the first query), 2-byte length framing with a size limit, pipelined
 * queries (bounded per connection) and an idle timeout.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type AddressInfo, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from '../../common/log.ts';
import { createRegistry, type Registry } from '../../common/metrics.ts';
import { guardListener, type ListenerLimits } from '../../common/net/guard.ts';
import { MAX_TCP_QUERY, TCP_IDLE_MS, TCP_MAX_INFLIGHT, UDP_RECV_BUFFER } from './constants.ts';
import { errorReply, type QueryHandler } from './handler.ts';
import type { DnsMetrics } from './metrics.ts';
import type { RateLimiter } from './ratelimit.ts';

export interface Listen {
  host: string;
  port: number;
}

export interface DnsServers {
  /** The bound addresses (UDP and TCP share each port). */
  addresses: Listen[];
  close(): Promise<void>;
}

const REFUSED = 5;

interface Deps {
  handler: QueryHandler;
  limiter?: RateLimiter;
  metrics: DnsMetrics;
  tcpLimits: ListenerLimits;
  registry?: Registry;
  log: Logger;
}

function bindUdp(l: Listen, d: Deps): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(l.host) ? 'udp6' : 'udp4', recvBufferSize: UDP_RECV_BUFFER });
    sock.once('error', reject);
    sock.bind(l.port, l.host, () => {
      sock.off('error', reject);
      // A send error (ICMP unreachable surfacing later) must not take the listener down.
      sock.on('error', (err) => d.log.debug({ err }, 'dns udp socket error'));
      resolve(sock);
    });
    sock.on('message', (msg, rinfo) => {
      if (d.limiter && !d.limiter.allow(rinfo.address)) {
        // Dropped, not refused: a UDP answer to a flood would make us its amplifier.
        d.metrics.rateLimited('udp');
        return;
      }
      void d.handler.handle(msg, 'udp').then((out) => {
        if (out) sock.send(out, rinfo.port, rinfo.address, () => {});
      });
    });
  });
}

function serveTcp(socket: Socket, settle: (s: Socket) => void, d: Deps): void {
  let buf: Buffer = Buffer.alloc(0);
  let inflight = 0;
  socket.setNoDelay(true);
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  const source = socket.remoteAddress ?? '?';
  const onQuery = (msg: Buffer) => {
    let reply: Promise<Buffer | undefined>;
    if (d.limiter && !d.limiter.allow(source)) {
      d.metrics.rateLimited('tcp');
      reply = Promise.resolve(errorReply(msg, REFUSED));
    } else reply = d.handler.handle(msg, 'tcp');
    inflight++;
    if (inflight >= TCP_MAX_INFLIGHT) socket.pause();
    void reply.then((out) => {
      inflight--;
      if (socket.destroyed) return;
      if (out) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        socket.write(Buffer.concat([len, out]));
      }
      if (inflight < TCP_MAX_INFLIGHT && socket.isPaused()) socket.resume();
    });
  };
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 2) {
      const n = buf.readUInt16BE(0);
      if (n > MAX_TCP_QUERY || n < 12) {
        // No DNS query is this long (or this short): not a client to keep talking to.
        d.metrics.malformed('tcp', n < 12 ? 'short' : 'oversized');
        socket.destroy();
        return;
      }
      if (buf.length < n + 2) return;
      const msg = Buffer.from(buf.subarray(2, n + 2));
      buf = buf.subarray(n + 2);
      settle(socket);
      onQuery(msg);
    }
  });
}

const openSockets = new WeakMap<Server, Set<Socket>>();

function bindTcp(l: Listen, d: Deps): Promise<Server> {
  const server = createServer();
  const guard = guardListener(server, 'dns', d.tcpLimits, { registry: d.registry ?? createRegistry(), log: d.log });
  const sockets = new Set<Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (s) => {
    if (s.destroyed) return;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    serveTcp(s, guard.settle, d);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: l.host, port: l.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => d.log.warn({ err }, 'dns tcp listener error'));
      resolve(server);
    });
  });
}

/** Binds UDP then TCP on the same port per address (port 0: the UDP port chosen, retried if TCP has it taken). */
export async function startServers(listen: Listen[], d: Deps): Promise<DnsServers> {
  const udp: UdpSocket[] = [];
  const tcp: Server[] = [];
  const addresses: Listen[] = [];
  const close = async () => {
    for (const s of udp) s.close();
    await Promise.all(
      tcp.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            for (const c of openSockets.get(s) ?? []) c.destroy();
          }),
      ),
    );
  };
  try {
    for (const l of listen) {
      for (let attempt = 0; ; attempt++) {
        const u = await bindUdp(l, d);
        const port = (u.address() as AddressInfo).port;
        try {
          tcp.push(await bindTcp({ host: l.host, port }, d));
          udp.push(u);
          addresses.push({ host: l.host, port });
          break;
        } catch (err) {
          u.close();
          if (l.port !== 0 || attempt >= 5) throw err;
        }
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close };
}
