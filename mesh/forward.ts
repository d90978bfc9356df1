/**
 * Local port forwards into tunnels (`--forward`): every TCP connection accepted on the local port
 * becomes a tunnel
 *   - `[HOST:]PORT=node:host:port`: to host:port on that node (a manual tool: ssh to a node's sshd);
 *   - `[HOST:]PORT=@service`: to one node advertising the service, the best path first, the next
 *     provider at once when one refuses or cannot be reached (advertise/client.ts). This is how an
 *     LC reaches any GM replica with no DNS name and no VIP.
 * The listener goes through the listener guard (common/net/guard.ts): connection caps in total and
 * per source, and a deadline until the tunnel is open.
 */
import { createServer, type Server } from 'node:net';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { createRegistry, type Registry } from '../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardListener, type ListenerLimits } from '../common/net/guard.ts';
import { SERVICE_NAME } from './advertise/service.ts';
import type { MeshNode } from './node.ts';
import { NODE_NAME } from './records/record.ts';

interface ListenSide {
  listenHost: string;
  listenPort: number;
}
/** A forward to host:port on one node. */
export interface NodeForwardSpec extends ListenSide {
  node: string;
  host: string;
  port: number;
}
/** A forward to any node advertising `service`. */
export interface ServiceForwardSpec extends ListenSide {
  service: string;
}
export type ForwardSpec = NodeForwardSpec | ServiceForwardSpec;

export const isServiceForward = (s: ForwardSpec): s is ServiceForwardSpec => 'service' in s;

/** Parses `[HOST:]PORT=node:host:port` or `[HOST:]PORT=@service` (IPv6 hosts in brackets). */
export function parseForward(text: string): ForwardSpec {
  const unbracket = (h: string) => h.replace(/^\[|\]$/g, '');
  const svc = /^(?:(\[[^\]]+\]|[^:=]+):)?(\d{1,5})=@(.+)$/.exec(text);
  if (svc) {
    const spec = {
      listenHost: unbracket(svc[1] ?? '127.0.0.1'),
      listenPort: Number(svc[2]),
      service: svc[3] as string,
    };
    if (!SERVICE_NAME.test(spec.service) || spec.service.length > 63) {
      throw new ConfigError(`"${spec.service}" is not a service name`);
    }
    if (spec.listenPort > 65535) throw new ConfigError(`bad port in "${text}"`);
    return spec;
  }
  const m = /^(?:(\[[^\]]+\]|[^:=]+):)?(\d{1,5})=([^:]+):(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (!m) throw new ConfigError(`expected [HOST:]PORT=node:host:port or [HOST:]PORT=@service, got "${text}"`);
  const spec = {
    listenHost: unbracket(m[1] ?? '127.0.0.1'),
    listenPort: Number(m[2]),
    node: m[3] as string,
    host: unbracket(m[4] as string),
    port: Number(m[5]),
  };
  if (!NODE_NAME.test(spec.node)) throw new ConfigError(`"${spec.node}" is not a node name`);
  if (spec.listenPort > 65535 || spec.port < 1 || spec.port > 65535) throw new ConfigError(`bad port in "${text}"`);
  return spec;
}

export const describeForward = (s: ForwardSpec) =>
  isServiceForward(s) ? `${s.listenPort}=@${s.service}` : `${s.listenPort}=${s.node}:${s.host}:${s.port}`;

export interface ForwardComponents {
  log: Logger;
  /** Where the listener guard counts (`listener="forward-PORT"`). Default: a private registry. */
  registry?: Registry;
  /** Listener limits. Default: those of the HTTP endpoints. */
  limits?: ListenerLimits;
}

/** Starts a forward; resolves with the listening server (closed by the caller). */
export async function startForward(spec: ForwardSpec, node: MeshNode, components: ForwardComponents): Promise<Server> {
  const flog = components.log.child({ component: 'mesh.forward', forward: describeForward(spec) });
  const open = (signal: AbortSignal) =>
    isServiceForward(spec)
      ? node.openService({ service: spec.service, signal })
      : node.openTunnel({ node: spec.node, host: spec.host, port: spec.port, signal });
  if (isServiceForward(spec)) node.watchService(spec.service);
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  const guard = guardListener(server, `forward-${spec.listenPort}`, components.limits ?? DEFAULT_HTTP_LIMITS, {
    registry: components.registry ?? createRegistry(),
    log: flog,
  });
  server.on('connection', (sock) => {
    if (sock.destroyed) return; // refused by the guard
    sock.pause();
    // The client may leave while the tunnel is being opened: stop trying providers for it.
    const gone = new AbortController();
    sock.once('close', () => gone.abort(new Error('client closed')));
    open(gone.signal)
      .then((t) => {
        if (sock.destroyed) {
          t.destroy();
          return;
        }
        guard.settle(sock);
        sock.pipe(t);
        t.pipe(sock);
        sock.on('error', (err) => t.destroy(err));
        // A tunnel that failed resets the client's connection: a FIN would pass for the end of the data.
        t.on('error', () => sock.resetAndDestroy());
        sock.resume();
      })
      .catch((err: { code?: string; reason?: string; message: string }) => {
        flog.warn({ code: err.code, reason: err.reason, err: err.message }, 'forwarded connection failed');
        sock.resetAndDestroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.listenPort, spec.listenHost, () => resolve());
  });
  flog.info({ listen: server.address() }, 'forwarding');
  return server;
}
