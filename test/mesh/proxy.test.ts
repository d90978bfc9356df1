/**
 * The node-local service proxy on real namespaces with the real API server: a client on a1
 * (LAN A) reaches ClusterIP:port of a Service whose endpoint is a real server on b1 (LAN B, behind
 * another NAT) — TCP and UDP, through the mesh tunnel to b1. An endpoint added on a1 itself takes
 * new connections (same node first); removed from the slice, it gets none. nft rules exist while
 * the agent runs and are gone after it stops, also after kill -9 and a restart.
 *
 *   pub   r1 (relay), root (API server)
 *   lana  a1 (proxy agent, client, a server)      lanb  b1 (proxy agent, the server)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createKubeRest } from '../../common/kube/rest.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import type { Host } from '../../netlab/index.ts';
import { createMeshLab, type MeshLab, type NodeName, until } from './harness.ts';

const AGENT = join(import.meta.dirname, 'proxy-agent.ts');
const NS = 'proxy-demo';

/** TCP: answers `ID:<first chunk>`; UDP: each datagram `ID:<datagram>`. Args: id host tcpPort udpPort. */
const SERVER = `
const [id, host, tcp, udp] = process.argv.slice(1);
require('node:net').createServer((s) => s.once('data', (d) => s.end(id + ':' + d))).listen(+tcp, host);
const u = require('node:dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(id + ':' + m, r.port, r.address));
u.bind(+udp, host);
`;
/** Args: proto ip port payload → prints the answer (or ERR ...). */
const CLIENT = `
const [proto, ip, port, payload] = process.argv.slice(1);
const fail = (e) => { console.log('ERR ' + e); process.exit(0); };
setTimeout(() => fail('timeout'), 8000);
if (proto === 'tcp') {
  const s = require('node:net').connect(+port, ip, () => s.write(payload));
  let out = ''; s.on('data', (d) => (out += d)); s.on('end', () => { console.log(out); process.exit(0); });
  s.on('error', (e) => fail(e.code));
} else {
  const u = require('node:dgram').createSocket('udp4');
  u.on('message', (m) => { console.log(String(m)); process.exit(0); });
  const send = () => u.send(payload, +port, ip);
  send(); setInterval(send, 500);
}
`;

async function ask(h: Host, proto: 'tcp' | 'udp', ip: string, port: number, payload: string): Promise<string> {
  const r = await h.exec(process.execPath, ['-e', CLIENT, proto, ip, String(port), payload], { timeoutMs: 15_000 });
  return r.stdout.trim();
}

const nftTable = async (h: Host) => (await h.exec('nft', ['list', 'table', 'inet', 'fedmesh'])).code === 0;

test('service proxy: ClusterIP TCP and UDP across LANs through the mesh, same-node endpoint first, a removed endpoint gets no new connection, no rule left after stop or kill -9', async (t) => {
  const m: MeshLab = await createMeshLab({ nodes: ['r1', 'a1', 'b1'] });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
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
  const ip = svc.spec.clusterIP;
  const endpoint = (node: NodeName) => ({
    addresses: [m.addr(node)],
    nodeName: node,
    conditions: { ready: true },
  });
  const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
  const slice = (nodes: NodeName[]) => ({
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: nodes.map(endpoint),
    ports: [
      { name: 'http', protocol: 'TCP', port: 7000 },
      { name: 'dns', protocol: 'UDP', port: 7001 },
    ],
  });
  await rest.request('POST', slicePath, { body: slice(['b1']) });
  const setSlice = async (nodes: NodeName[]) => {
    const cur = await rest.request<{ metadata: { resourceVersion: string } }>('GET', `${slicePath}/web-1`);
    const body = slice(nodes);
    await rest.request('PUT', `${slicePath}/web-1`, {
      body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } },
    });
  };

  for (const n of ['a1', 'b1'] as const) {
    m.host(n).spawn({
      name: `server-${n}`,
      cmd: process.execPath,
      args: ['-e', SERVER, n, m.addr(n), '7000', '7001'],
      logFile: join(m.dir, `server-${n}.log`),
    });
  }
  await m.start('r1', { relays: ['r1'] });
  const relays = [{ nodeName: 'r1', advertiseAddress: [m.addr('r1')] }];
  const agent = (n: NodeName, tunnelAllow: string[]) =>
    m.host(n).spawn({
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
          tunnelAllow,
        }),
      ],
      logFile: join(m.dir, `agent-${n}.log`),
    });
  const a1 = m.host('a1');
  const b1Agent = agent('b1', ['198.18.2.0/24']);
  t.after(() => b1Agent.stop('SIGTERM', 5000));
  let a1Agent = agent('a1', ['198.18.1.0/24']);
  t.after(() => a1Agent.stop('SIGTERM', 5000));

  // TCP and UDP to the ClusterIP reach b1's server, across both NATs through the mesh.
  const first = await until(
    'a1 to reach web over TCP',
    async () => {
      const r = await ask(a1, 'tcp', ip, 80, 'hello');
      return r.startsWith('b1:') ? r : undefined;
    },
    60_000,
  );
  assert.equal(first, 'b1:hello');
  assert.equal(await ask(a1, 'udp', ip, 53, 'ping'), 'b1:ping');
  assert.equal(await ask(a1, 'udp', ip, 53, 'again'), 'b1:again', 'a new flow works as well');
  assert.equal(await nftTable(a1), true, 'the table exists while the agent runs');

  // An endpoint on a1 itself: new connections go there (same node before another LAN).
  await setSlice(['a1', 'b1']);
  await until(
    'the local endpoint to be chosen',
    async () => ((await ask(a1, 'tcp', ip, 80, 'x')) === 'a1:x' ? true : undefined),
    15_000,
  );
  for (let i = 0; i < 5; i++) assert.equal(await ask(a1, 'tcp', ip, 80, `n${i}`), `a1:n${i}`);
  // Removed from the slice: no new connection goes to it.
  await setSlice(['b1']);
  await until(
    'the removed endpoint to be left',
    async () => ((await ask(a1, 'tcp', ip, 80, 'y')) === 'b1:y' ? true : undefined),
    15_000,
  );
  for (let i = 0; i < 5; i++) assert.equal(await ask(a1, 'tcp', ip, 80, `m${i}`), `b1:m${i}`);

  // Stop: rules gone.
  await a1Agent.stop('SIGTERM', 5000);
  assert.equal(await nftTable(a1), false, 'no table after a clean stop');
  // kill -9 leaves the table; the next start replaces it and works; its stop removes it.
  a1Agent = agent('a1', ['198.18.1.0/24']);
  await until(
    'a1 to reach web again',
    async () => ((await ask(a1, 'tcp', ip, 80, 'z')) === 'b1:z' ? true : undefined),
    60_000,
  );
  await a1Agent.stop('SIGKILL', 5000);
  assert.equal(await nftTable(a1), true, 'kill -9 leaves the table behind');
  a1Agent = agent('a1', ['198.18.1.0/24']);
  await until(
    'a1 to reach web after kill -9',
    async () => ((await ask(a1, 'tcp', ip, 80, 'k')) === 'b1:k' ? true : undefined),
    60_000,
  );
  const listed = (await a1.exec('nft', ['list', 'table', 'inet', 'fedmesh'])).stdout;
  assert.equal(listed.match(/redirect to/g)?.length, 2, `one rule per ClusterIP:port, none stale:\n${listed}`);
  await a1Agent.stop('SIGTERM', 5000);
  assert.equal(await nftTable(a1), false, 'no table after the restarted agent stops');
});
