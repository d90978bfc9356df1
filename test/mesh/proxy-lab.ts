/**
 * The stage of the proxy tests: a mesh lab (r1 relay; a1 in LAN A; b1 in LAN B), the real API
 * server reachable from the hosts, a namespace with Service `web` (TCP 80 → 7000 "http", UDP 53 →
 * 7001 "dns") and its EndpointSlice, servers that name themselves, and proxy agents (proxy-agent.ts).
 */
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { ManagedProcess } from '../../common/process/index.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import { destinationRuleCrd } from '../../crds/destination-rule.ts';
import type { Host } from '../../netlab/index.ts';
import { createMeshLab, type MeshLab, type NodeName, until } from './harness.ts';

const AGENT = join(import.meta.dirname, 'proxy-agent.ts');
export const NS = 'proxy-demo';

/** TCP: answers `ID:<first chunk>`; UDP: each datagram `ID:<datagram>`. Args: id host tcpPort udpPort. */
const SERVER = `
const [id, host, tcp, udp] = process.argv.slice(1);
require('node:net').createServer((s) => s.once('data', (d) => s.end(id + ':' + d))).listen(+tcp, host);
const u = require('node:dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(id + ':' + m, r.port, r.address));
u.bind(+udp, host);
`;
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

export interface ProxyLab {
  m: MeshLab;
  rest: KubeRest;
  /** The Service's ClusterIP. */
  ip: string;
  /** Replaces the slice's endpoints: `[node, address]` pairs (address default: the node's own). */
  setEndpoints(eps: Array<[NodeName, string?]>): Promise<void>;
  /** Starts a naming server on `address` (id = the address, or `id`). */
  server(node: NodeName, address: string, id?: string): void;
  /** Starts a proxy agent; tunnelAllow: the node's LAN. */
  agent(node: NodeName): ManagedProcess;
  /** Waits until an answer from `h` comes from `id`. */
  reach(h: Host, id: string, timeoutMs?: number): Promise<void>;
}

export async function startProxyLab(t: TestContext, opts: { crd?: boolean } = {}): Promise<ProxyLab> {
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'b1'] });
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
    ],
  });
  let created = false;
  await m.start('r1', { relays: ['r1'] });
  const relays = [{ nodeName: 'r1', advertiseAddress: [m.addr('r1')] }];
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
    server(node, address, id = address) {
      m.host(node).spawn({
        name: `server-${node}-${address}`,
        cmd: process.execPath,
        args: ['-e', SERVER, id, address, '7000', '7001'],
        logFile: join(m.dir, `server-${address}.log`),
      });
    },
    agent(n) {
      const p = m.host(n).spawn({
        name: `agent-${n}`,
        cmd: process.execPath,
        args: [
          AGENT,
          JSON.stringify({
            name: n,
            stateDir: join(m.dir, `${n}.state`),
            pskFile: m.pskFile,
            kubeconfig: plane.kubeconfigPath,
            relays,
            tunnelAllow: [lan(n)],
          }),
        ],
        logFile: join(m.dir, `agent-${n}.log`),
      });
      t.after(() => p.stop('SIGTERM', 5000));
      return p;
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
