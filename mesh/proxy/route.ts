/**
 * From a Service port to the endpoints a new connection may use, and how to reach each: the
 * endpoint's locality (this node, a node on our LAN, or remote with its RTT) and whether it is
 * dialled directly or through a mesh tunnel to its node.
 */
import { BlockList, connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PathClass } from '../advertise/choice.ts';
import { type Endpoint, endpointPort, type ServiceEntry, type ServicePort } from '../services/index.ts';
import { DIRECT_DIAL_TIMEOUT_MS } from './constants.ts';
import type { Candidate } from './lb.ts';
import type { ProxyPath } from './metrics.ts';

/** What the proxy needs of the mesh node. */
export interface ProxyMesh {
  /** This node's name (endpoints with this `nodeName` are local). */
  readonly name: string;
  openTunnel(opts: { node: string; host: string; port: number; proto?: 'udp'; signal?: AbortSignal }): Promise<Duplex>;
  /** The path held to a node now and its smoothed RTT in ms, when measured. */
  pathTo(node: string): { path: PathClass; rttMs?: number };
  /** A tunnel to `node` opened in `ms` (a round-trip sample). */
  observed?(node: string, ms: number): void;
}

export interface Target extends Candidate {
  host: string;
  port: number;
  /** The endpoint's node; undefined when the slice does not say (dialled directly). */
  node?: string;
  /** Dial host:port directly (else a tunnel to `node`). */
  direct: boolean;
}

/** Endpoints that take new connections: ready, serving, not terminating (kube-proxy's rule). */
export const usable = (ep: Endpoint) => ep.ready && ep.serving && !ep.terminating;

export function createCidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', bits] = c.split('/');
    const fam = isIP(addr);
    if (!fam) throw new Error(`"${c}" is not a CIDR`);
    const max = fam === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`"${c}": bad prefix length`);
    list.addSubnet(addr, prefix, fam === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/**
 * The targets for `port` of `entry` reached at `clusterIP` (endpoints of the ClusterIP's family).
 * `directCidrs`: addresses dialled directly when their node is on our LAN (a routable pod network).
 */
export function targetsFor(
  entry: ServiceEntry,
  port: ServicePort,
  clusterIP: string,
  mesh: Pick<ProxyMesh, 'name' | 'pathTo'>,
  directCidrs: BlockList,
  penalized: (id: string) => boolean,
): Target[] {
  const family = isIP(clusterIP) === 6 ? 'IPv6' : 'IPv4';
  const out: Target[] = [];
  for (const ep of entry.endpoints) {
    if (ep.family !== family || !usable(ep)) continue;
    const p = endpointPort(ep, port.name, port.protocol);
    const host = ep.addresses[0];
    if (!p || !host) continue;
    const id = `${host}:${p}`;
    const base = { id, host, port: p, penalized: penalized(id) };
    if (!ep.nodeName || ep.nodeName === mesh.name) {
      out.push({ ...base, node: ep.nodeName, locality: 'local', direct: true });
      continue;
    }
    const { path, rttMs } = mesh.pathTo(ep.nodeName);
    const lan = path === 'direct';
    const routable = directCidrs.check(host, family === 'IPv4' ? 'ipv4' : 'ipv6');
    out.push({
      ...base,
      node: ep.nodeName,
      locality: lan ? 'lan' : 'remote',
      ...(rttMs === undefined ? {} : { rttMs }),
      direct: lan && routable,
    });
  }
  return out;
}

function dialDirect(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, allowHalfOpen: true, noDelay: true });
    const fail = (err: Error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(err);
    };
    const onAbort = () => fail(new Error('aborted'));
    const timer = setTimeout(
      () => fail(new Error(`connect timeout after ${DIRECT_DIAL_TIMEOUT_MS} ms`)),
      DIRECT_DIAL_TIMEOUT_MS,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('error', fail);
    sock.once('connect', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.removeListener('error', fail);
      resolve(sock);
    });
  });
}

const meshPath = (p: PathClass): ProxyPath =>
  p === 'direct' ? 'mesh-direct' : p === 'punched' ? 'mesh-punched' : 'mesh-relayed';

/** A TCP byte stream to the target: directly when it is local or a routable LAN address (tunnel if that fails). */
export async function dialTcp(
  t: Target,
  mesh: ProxyMesh,
  signal: AbortSignal,
): Promise<{ stream: Duplex; path: ProxyPath }> {
  if (t.direct) {
    try {
      return { stream: await dialDirect(t.host, t.port, signal), path: t.locality === 'local' ? 'local' : 'lan' };
    } catch (err) {
      if (!t.node || t.node === mesh.name || signal.aborted) throw err;
    }
  }
  return openTunnel(t, mesh, signal);
}

export async function openTunnel(
  t: Target,
  mesh: ProxyMesh,
  signal: AbortSignal,
  proto?: 'udp',
): Promise<{ stream: Duplex; path: ProxyPath }> {
  const node = t.node as string;
  const started = performance.now();
  const stream = await mesh.openTunnel({ node, host: t.host, port: t.port, signal, ...(proto ? { proto } : {}) });
  mesh.observed?.(node, performance.now() - started);
  return { stream, path: meshPath(mesh.pathTo(node).path) };
}
