/**
 * The UDP side: one loopback socket per ClusterIP:port; a flow per client address:port, each
 * with its endpoint (chosen like a TCP connection) and an idle timer. Local and routable LAN
 * endpoints get a connected UDP socket; remote ones a `proto: "udp"` tunnel carrying length-prefixed
 * datagrams (mesh/tunnel/datagram.ts). A tunnel that resets is dropped, and the flow's next
 * datagram opens a new one: no restart needed. Replies leave from the listener's socket, so
 * conntrack rewrites them back to the ClusterIP the client sent to.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/log.ts';
import { createDatagramDecoder, encodeDatagram } from '../tunnel/datagram.ts';
import { UDP_MAX_FLOWS, UDP_OPEN_TIMEOUT_MS, UDP_PENDING_MAX } from './constants.ts';
import type { ProxyPath } from './metrics.ts';
import { openTunnel, type Target } from './route.ts';
import { connectPlan, type PortDeps } from './tcp.ts';

interface Flow {
  key: string;
  client: RemoteInfo;
  service: string;
  target?: Target;
  /** Connected socket (direct) or tunnel stream; undefined while none is open. */
  direct?: UdpSocket;
  tunnel?: Duplex;
  opening?: Promise<void>;
  pending: Buffer[];
  timer?: NodeJS.Timeout;
  counted: boolean;
}

export interface UdpPort {
  readonly socket: UdpSocket;
  close(): void;
  flows(): number;
}

export async function startUdpPort(
  listen: { host: string },
  deps: PortDeps,
  idleMs: number,
  log: Logger,
): Promise<UdpPort> {
  const sock = createSocket(isIP(listen.host) === 6 ? 'udp6' : 'udp4');
  const flows = new Map<string, Flow>();
  let closed = false;

  const reply = (f: Flow, msg: Buffer) => {
    touch(f);
    deps.metrics.bytes(f.service, 'in', msg.length);
    if (!closed) sock.send(msg, f.client.port, f.client.address);
  };
  const end = (f: Flow) => {
    if (flows.get(f.key) !== f) return;
    flows.delete(f.key);
    clearTimeout(f.timer);
    f.direct?.close();
    f.tunnel?.destroy();
    if (f.counted) deps.metrics.active(-1);
  };
  const touch = (f: Flow) => {
    clearTimeout(f.timer);
    f.timer = setTimeout(() => end(f), idleMs);
    f.timer.unref();
  };

  const open = async (f: Flow) => {
    const plan = deps.plan(f.client.address);
    if (!plan?.targets.length) {
      deps.metrics.error(plan?.service ?? f.service, 'no-endpoint');
      throw new Error('no endpoint');
    }
    // A flow keeps its endpoint while it is still a target (a tunnel reset is not a reason to move).
    const keep = f.target && plan.targets.find((t) => t.id === f.target?.id);
    if (keep) plan.targets = [keep, ...plan.targets.filter((t) => t !== keep)];
    const dial = async (t: Target, signal: AbortSignal): Promise<{ stream: Duplex; path: ProxyPath }> => {
      if (t.direct) {
        const s = createSocket(isIP(t.host) === 6 ? 'udp6' : 'udp4');
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.connect(t.port, t.host, () => resolve());
        });
        s.removeAllListeners('error');
        s.on('error', () => {}); // ICMP unreachable: the endpoint may come back (UDP)
        s.on('message', (m) => reply(f, m));
        f.direct = s;
        // No stream for a direct flow: the socket is the flow's path.
        return { stream: undefined as unknown as Duplex, path: t.locality === 'local' ? 'local' : 'lan' };
      }
      return openTunnel(t, deps.mesh, signal, 'udp');
    };
    const { stream, path, target } = await connectPlan(
      plan,
      f.client.address,
      deps,
      AbortSignal.timeout(UDP_OPEN_TIMEOUT_MS),
      dial,
    );
    f.target = target;
    if (!f.counted) {
      f.counted = true;
      deps.metrics.active(1);
      deps.metrics.connection(plan.service, 'udp', path);
    }
    if (stream) {
      const decoder = createDatagramDecoder();
      f.tunnel = stream;
      stream.on('data', (chunk: Buffer) => {
        for (const d of decoder.push(chunk)) reply(f, Buffer.from(d));
      });
      const lost = () => {
        if (f.tunnel !== stream) return;
        f.tunnel = undefined;
        log.info({ service: f.service, endpoint: target.id }, 'udp tunnel ended; the next datagram opens a new one');
      };
      stream.on('error', lost);
      stream.on('close', lost);
      stream.on('end', lost);
    }
  };

  const send = (f: Flow, msg: Buffer) => {
    deps.metrics.bytes(f.service, 'out', msg.length);
    if (f.direct) f.direct.send(msg);
    else if (f.tunnel && !f.tunnel.destroyed) f.tunnel.write(encodeDatagram(msg));
    else {
      if (f.pending.length < UDP_PENDING_MAX) f.pending.push(msg);
      f.opening ??= open(f)
        .then(() => {
          const held = f.pending.splice(0);
          for (const m of held) send(f, m);
        })
        .catch((err: Error) => {
          log.warn({ service: f.service, err: err.message }, 'udp flow has no endpoint');
          end(f);
        })
        .finally(() => {
          f.opening = undefined;
        });
    }
  };

  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    let f = flows.get(key);
    if (!f) {
      if (flows.size >= UDP_MAX_FLOWS) return;
      f = { key, client: rinfo, service: deps.plan(rinfo.address)?.service ?? 'unknown', pending: [], counted: false };
      flows.set(key, f);
    }
    touch(f);
    send(f, msg);
  });
  sock.on('error', (err) => log.warn({ err: err.message }, 'udp listener error'));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, listen.host, () => {
      sock.removeListener('error', reject);
      resolve();
    });
  });
  return {
    socket: sock,
    flows: () => flows.size,
    close() {
      closed = true;
      for (const f of [...flows.values()]) end(f);
      sock.close();
    },
  };
}
