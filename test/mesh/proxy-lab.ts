/**
 * The stage of the proxy tests: a mesh lab (r1 relay; a1 in LAN A; b1 in LAN B), the real API
 * server reachable from the hosts, a namespace with Service `web` (TCP 80 → 7000 "http", UDP 53 →
 * 7001 "dns") and its EndpointSlice, servers that name themselves, and `fedmesh mesh` agents
 * with the services and proxy config sections.
 */
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { ManagedProcess } from '../../common/process/index.ts';
import { issueCert } from '../../controlplane/certs.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import { destinationRuleCrd } from '../../crds/destination-rule.ts';
import type { Host } from '../../netlab/index.ts';
import { createMeshLab, type MeshLab, type MeshProc, type NodeName, type TopologyInit, until } from './harness.ts';

export const NS = 'proxy-demo';
/** Service ports of the application protocols (PROTO_SERVER). */
const APP_PORTS = [
  { name: 'http-ka', port: 8080, target: 7100 },
  { name: 'h2c', port: 8081, target: 7101 },
  { name: 'tls', port: 8443, target: 7102 },
  { name: 'ws', port: 8082, target: 7103 },
];

/** TCP: answers `ID:<first chunk>`; UDP: each datagram `ID:<datagram>`. Args: id host tcpPort udpPort. */
const SERVER = `
const [id, host, tcp, udp] = process.argv.slice(1);
require('node:net').createServer((s) => s.once('data', (d) => s.end(id + ':' + d))).listen(+tcp, host);
const u = require('node:dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(id + ':' + m, r.port, r.address));
u.bind(+udp, host);
`;
/**
 * Application protocols on b1 (args: host certFile keyFile): HTTP/1.1 on 7100 (answers with the
 * server-side port of its connection, so keep-alive is visible), h2c on 7101, HTTPS on 7102 (the
 * proxy passes TLS through: the client checks the backend's certificate), WebSocket on 7103.
 */
const PROTO_SERVER = `
const [host, cert, key] = process.argv.slice(1);
const http = require('node:http'), http2 = require('node:http2'), https = require('node:https');
const fs = require('node:fs'), crypto = require('node:crypto');
http.createServer((req, res) => res.end('http:' + req.url + ':' + req.socket.remotePort)).listen(7100, host);
http2.createServer((req, res) => res.end('h2:' + req.url)).listen(7101, host);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => res.end('tls:' + req.url)).listen(7102, host);
const ws = http.createServer();
ws.on('upgrade', (req, sock) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  sock.on('data', (buf) => {
    if ((buf[0] & 0x0f) !== 1) return; // text frames only (a close frame ends the test anyway)
    const len = buf[1] & 0x7f, mask = buf.subarray(2, 6);
    const data = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]));
    sock.write(Buffer.concat([Buffer.from([0x81, data.length + 3]), Buffer.from('ws:'), data]));
  });
});
ws.listen(7103, host);
`;
/** Args: ip caFile → one JSON line with what each protocol answered through the ClusterIP. */
const PROTO_CLIENT = `
const [ip, ca] = process.argv.slice(1);
const http = require('node:http'), http2 = require('node:http2'), https = require('node:https'), fs = require('node:fs');
setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(0); }, 15000);
const body = (r, resolve) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => resolve(b)); };
(async () => {
  const out = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path) => new Promise((resolve, reject) => http.get({ host: ip, port: 8080, path, agent }, (r) => body(r, resolve)).on('error', reject));
  out.http = [await get('/a'), await get('/b'), await get('/c')];
  agent.destroy();
  const c = http2.connect('http://' + ip + ':8081');
  const h2 = (p) => new Promise((resolve, reject) => { const s = c.request({ ':path': p }); body(s, resolve); s.on('error', reject); s.end(); });
  out.h2 = await Promise.all([h2('/x'), h2('/y')]);
  c.close();
  out.tls = await new Promise((resolve) => https.get({ host: ip, port: 8443, path: '/t', ca: fs.readFileSync(ca) }, (r) => body(r, resolve)).on('error', (e) => resolve('ERR ' + e.message)));
  out.ws = await new Promise((resolve) => {
    const w = new WebSocket('ws://' + ip + ':8082/');
    w.onopen = () => w.send('hi');
    w.onmessage = (e) => { resolve(String(e.data)); w.close(); };
    w.onerror = (e) => resolve('ERR ' + (e.message || 'websocket'));
  });
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); });
`;

/** Runs PROTO_CLIENT on `h` against the ClusterIP. */
export async function askProtocols(h: Host, ip: string, caFile: string): Promise<Record<string, unknown>> {
  const r = await h.exec(process.execPath, ['-e', PROTO_CLIENT, ip, caFile], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) || '{}') as Record<string, unknown>;
}

/**
 * Args: proto ip port payload count [localAddress] → `count` exchanges one after the other (TCP:
 * a new connection each, so a new source port), one answer per line (or ERR ...).
 */
const CLIENT = `
const [proto, ip, port, payload, count, local] = process.argv.slice(1);
setTimeout(() => { console.log('ERR timeout'); process.exit(0); }, 10000);
const one = (i) => new Promise((resolve) => {
  if (proto === 'tcp') {
    const s = require('node:net').connect({ port: +port, host: ip, ...(local ? { localAddress: local } : {}) }, () => s.write(payload + i));
    let out = ''; s.on('data', (d) => (out += d)); s.on('end', () => resolve(out));
    s.on('error', (e) => resolve('ERR ' + e.code));
  } else {
    const u = require('node:dgram').createSocket('udp4');
    u.bind(0, local || undefined, () => {
      const t = setInterval(() => u.send(payload + i, +port, ip), 500);
      u.on('message', (m) => { clearInterval(t); u.close(); resolve(String(m)); });
      u.send(payload + i, +port, ip);
    });
  }
});
(async () => { for (let i = 0; i < +count; i++) console.log(await one(i)); process.exit(0); })();
`;

/** `count` exchanges from `h` (each a new connection or flow); the answers, payloads numbered from 0. */
export async function ask(
  h: Host,
  proto: 'tcp' | 'udp',
  ip: string,
  port: number,
  payload: string,
  count = 1,
  localAddress = '',
): Promise<string[]> {
  const r = await h.exec(
    process.execPath,
    ['-e', CLIENT, proto, ip, String(port), payload, String(count), localAddress],
    { timeoutMs: 20_000 },
  );
  return r.stdout.trim().split('\n');
}

export const nftTable = async (h: Host) => (await h.exec('nft', ['list', 'table', 'inet', 'fedmesh'])).code === 0;

/** More of the agent's config: merged into `services`; `dns` and `relays` (names) as given. */
export interface AgentExtra {
  services?: { clusterDomain?: string };
  dns?: object;
  relays?: NodeName[];
}

export interface ProxyLab {
  m: MeshLab;
  rest: KubeRest;
  /** The Service's ClusterIP. */
  ip: string;
  /** Replaces the slice's endpoints: `[node, address]` pairs (address default: the node's own). */
  setEndpoints(eps: Array<[NodeName, string?]>): Promise<void>;
  /** Starts a naming server on `address` (id = the address, or `id`). */
  server(node: NodeName, address: string, id?: string): void;
  /** Starts the application-protocol servers on `node`'s address (certificate for the ClusterIP). */
  protoServers(node: NodeName): Promise<void>;
  /** The CA that signed the TLS server's certificate. */
  caFile: string;
  /**
   * Starts `fedmesh mesh` on `node` with the services and proxy sections; tunnel.allow: the node's
   * LAN; `directCidrs`: endpoint addresses dialled directly. Resolves once the node started.
   */
  agent(node: NodeName, directCidrs?: string[], extra?: AgentExtra): Promise<ManagedProcess>;
  /** The `fedmesh mesh` process last started on `node` by `agent`, or a relay (status, logs). */
  mesh(node: NodeName): MeshProc;
  /** Waits until an answer from `h` comes from `id`. */
  reach(h: Host, id: string, timeoutMs?: number): Promise<void>;
}

/** `t`: a test context, or anything with `after` (the benchmark's cleanup list). */
export async function startProxyLab(
  t: Pick<TestContext, 'after'>,
  opts: { crd?: boolean; nodes?: NodeName[]; relays?: NodeName[]; mapping?: TopologyInit['mapping'] } = {},
): Promise<ProxyLab> {
  const m = await createMeshLab({
    nodes: opts.nodes ?? ['r1', 'a1', 'b1'],
    ...(opts.mapping ? { mapping: opts.mapping } : {}),
  });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
  if (opts.crd) {
    await rest.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: destinationRuleCrd(),
    });
    await until(
      'the DestinationRule CRD to be served',
      async () => {
        try {
          await rest.request('GET', '/apis/networking.istio.io/v1/destinationrules');
          return true;
        } catch {
          return undefined;
        }
      },
      30_000,
    );
  }
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
  const svc = await rest.request<{ spec: { clusterIP: string } }>('POST', `/api/v1/namespaces/${NS}/services`, {
    body: {
      metadata: { name: 'web' },
      spec: {
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 7000 },
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 7001 },
          ...APP_PORTS.map((p) => ({ name: p.name, protocol: 'TCP', port: p.port, targetPort: p.target })),
        ],
      },
    },
  });
  const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
  const slice = (eps: Array<[NodeName, string?]>) => ({
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: eps.map(([node, address]) => ({
      addresses: [address ?? m.addr(node)],
      nodeName: node,
      conditions: { ready: true },
    })),
    ports: [
      { name: 'http', protocol: 'TCP', port: 7000 },
      { name: 'dns', protocol: 'UDP', port: 7001 },
      ...APP_PORTS.map((p) => ({ name: p.name, protocol: 'TCP', port: p.target })),
    ],
  });
  let created = false;
  const relays = opts.relays ?? ['r1'];
  const procs = new Map<NodeName, MeshProc>();
  for (const r of relays) procs.set(r, await m.start(r, { relays }));
  const lan = (n: NodeName) => `${m.addr(n).split('.').slice(0, 3).join('.')}.0/24`;
  return {
    m,
    rest,
    ip: svc.spec.clusterIP,
    async setEndpoints(eps) {
      if (!created) {
        created = true;
        await rest.request('POST', slicePath, { body: slice(eps) });
        return;
      }
      const cur = await rest.request<{ metadata: { resourceVersion: string } }>('GET', `${slicePath}/web-1`);
      const body = slice(eps);
      await rest.request('PUT', `${slicePath}/web-1`, {
        body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } },
      });
    },
    caFile: join(plane.dir, 'ca.crt'),
    async protoServers(node) {
      const { cert, key } = await issueCert(
        plane.dir,
        'web-tls',
        { cn: 'web' },
        {
          server: { ips: [svc.spec.clusterIP], dns: [`web.${NS}.svc.cluster.local`] },
        },
      );
      m.host(node).spawn({
        name: `proto-${node}`,
        cmd: process.execPath,
        args: ['-e', PROTO_SERVER, m.addr(node), cert, key],
        logFile: join(m.dir, `proto-${node}.log`),
      });
    },
    server(node, address, id = address) {
      m.host(node).spawn({
        name: `server-${node}-${address}`,
        cmd: process.execPath,
        args: ['-e', SERVER, id, address, '7000', '7001'],
        logFile: join(m.dir, `server-${address}.log`),
      });
    },
    async agent(n, directCidrs, extra = {}) {
      const mp = await m.start(n, {
        config: m.config(extra.relays ?? relays, {
          tunnel: { allow: [lan(n)] },
          services: { kubeconfig: plane.kubeconfigPath, ...extra.services },
          proxy: directCidrs ? { directCidrs } : {},
          ...(extra.dns ? { dns: extra.dns } : {}),
        }),
      });
      procs.set(n, mp);
      t.after(() => mp.proc.stop('SIGTERM', 5000));
      return mp.proc;
    },
    mesh(n) {
      const mp = procs.get(n);
      if (!mp) throw new Error(`no agent started on ${n}`);
      return mp;
    },
    async reach(h, id, timeoutMs = 60_000) {
      await until(
        `an answer from ${id}`,
        async () =>
          (await ask(h, 'tcp', svc.spec.clusterIP, 80, 'probe'))[0]?.startsWith(`${id}:`) ? true : undefined,
        timeoutMs,
      );
    },
  };
}
