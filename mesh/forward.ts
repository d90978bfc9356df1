/**
 * Local port forwards into tunnels (`--forward [HOST:]PORT=node:host:port`): every TCP connection
 * accepted on the local port becomes a tunnel to host:port on the node. Used by tests and as a
 * manual tool (ssh to a node's sshd through the mesh).
 */
import { createServer, type Server } from 'node:net';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { MeshNode } from './node.ts';
import { NODE_NAME } from './records/record.ts';

export interface ForwardSpec {
  listenHost: string;
  listenPort: number;
  node: string;
  host: string;
  port: number;
}

/** Parses `[HOST:]PORT=node:host:port` (IPv6 hosts in brackets). */
export function parseForward(text: string): ForwardSpec {
  const m = /^(?:(\[[^\]]+\]|[^:=]+):)?(\d{1,5})=([^:]+):(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const unbracket = (h: string) => h.replace(/^\[|\]$/g, '');
  if (!m) throw new ConfigError(`expected [HOST:]PORT=node:host:port, got "${text}"`);
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

/** Starts a forward; resolves with the listening server (closed by the caller). */
export async function startForward(spec: ForwardSpec, node: MeshNode, log: Logger): Promise<Server> {
  const flog = log.child({
    component: 'mesh.forward',
    forward: `${spec.listenPort}=${spec.node}:${spec.host}:${spec.port}`,
  });
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sock.pause();
    node
      .openTunnel({ node: spec.node, host: spec.host, port: spec.port })
      .then((t) => {
        sock.pipe(t);
        t.pipe(sock);
        sock.on('error', (err) => t.destroy(err));
        t.on('error', () => sock.destroy());
        sock.resume();
      })
      .catch((err: { code?: string; reason?: string; message: string }) => {
        flog.warn({ code: err.code, reason: err.reason, err: err.message }, 'forwarded connection failed');
        sock.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.listenPort, spec.listenHost, () => resolve());
  });
  flog.info({ listen: server.address() }, 'forwarding');
  return server;
}
