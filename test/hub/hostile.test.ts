/**
 * Regression tests of the hostile-input findings against a real GM process on the real control
 * plane: bytes sent after a refused upgrade, spoofed node names that come and go, a claimed identity
 * against a proven one, idle and slow-header connections, a silent fedmesh connection.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import {
  adminRest,
  create,
  dataset,
  HUB_ONLY,
  nodeToken,
  rawFedmesh,
  startTestLc,
  until,
  upgradeRequest,
} from './helpers.ts';

const env = useEnvtest();

/** Opens a TCP connection, sends `first`, waits for the 101, then sends `after`; resolves when the GM hung up. */
async function rawUpgrade(port: number, first: string, after: Buffer): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  let got = '';
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.on('data', (d) => {
    const wasUpgraded = got.includes('\r\n\r\n');
    got += d.toString('latin1');
    if (!wasUpgraded && got.includes('\r\n\r\n')) sock.write(after);
  });
  await once(sock, 'connect');
  sock.write(first);
  const timer = setTimeout(() => sock.destroy(), 10_000);
  await closed;
  clearTimeout(timer);
  return got;
}

async function closesWithin(sock: Socket, ms: number): Promise<boolean> {
  sock.on('error', () => {});
  const timer = setTimeout(() => sock.destroy(new Error('still open')), ms);
  let failed = false;
  sock.once('error', () => {
    failed = true;
  });
  await once(sock, 'close');
  clearTimeout(timer);
  return !failed;
}

const leases = async (rest: Awaited<ReturnType<typeof adminRest>>, ns: string) =>
  (
    await rest.request<{ items: Array<{ metadata: { name: string } }> }>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      { query: { labelSelector: 'fedmesh.io/lc-connection=true' } },
    )
  ).items;

test('bytes sent after a refused upgrade (invalid opcode, oversized length) never end the GM', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-ok', 'edge-ok'));
  const [open, strict] = await Promise.all([
    startReplica(env.plane, {
      id: 'open',
      namespace: ns,
      readyz: 'replica',
      args: [...HUB_ONLY, '--allow-unauthenticated-sedna-lc'],
    }),
    startReplica(env.plane, { id: 'strict', namespace: ns, readyz: 'replica', args: HUB_ONLY }),
  ]);
  t.after(() => Promise.all([open.proc.stop('SIGKILL'), strict.proc.stop('SIGKILL')]));
  await until('replicas ready', 30_000, async () => (await open.readyz()) === 200 && (await strict.readyz()) === 200);

  // Masked frames as a client sends them: an invalid opcode (3), and a binary frame announcing 2^40 bytes.
  const badOpcode = Buffer.from([0x83, 0x80, 0x01, 0x02, 0x03, 0x04]);
  const huge = Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  const refusals: Array<{ name: string; port: number; headers: Record<string, string> }> = [
    { name: 'sedna without Node-Name', port: open.wsPort, headers: {} },
    { name: 'fedmesh without a token', port: open.wsPort, headers: { 'Sec-WebSocket-Protocol': 'fedmesh.v1' } },
    { name: 'sedna without credentials (strict)', port: strict.wsPort, headers: { 'Node-Name': 'edge-x' } },
    {
      name: 'garbage token',
      port: strict.wsPort,
      headers: { 'Sec-WebSocket-Protocol': 'fedmesh.v1', Authorization: 'Bearer x' },
    },
  ];
  for (const r of refusals) {
    for (const frame of [badOpcode, huge]) {
      const got = await rawUpgrade(r.port, upgradeRequest(r.headers), frame);
      assert.match(got, /^HTTP\/1\.1 101/, `${r.name}: upgraded, then refused with a close frame`);
    }
  }
  assert.ok(open.proc.running() && strict.proc.running(), 'both replicas are still running');
  assert.equal(await open.readyz(), 200);
  assert.equal(await strict.readyz(), 200);
  // And still serve a real LC.
  const lc = startTestLc('edge-ok', [`ws://127.0.0.1:${strict.wsPort}/`], await nodeToken(rest, ns, 'edge-ok'));
  t.after(() => lc.stop());
  await until('served', 10_000, () => lc.keys().includes('Dataset/ds-ok'));
});

test('an identity claimed by a Node-Name header never displaces one proven by a token, on the same or another replica', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-1', 'edge-1'));
  await create(rest, ns, 'Dataset', dataset('ds-2', 'edge-2'));
  const args = [...HUB_ONLY, '--allow-unauthenticated-sedna-lc'];
  const [a, b] = await Promise.all([
    startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args }),
    startReplica(env.plane, { id: 'b', namespace: ns, readyz: 'replica', args }),
  ]);
  t.after(() => Promise.all([a.proc.stop('SIGKILL'), b.proc.stop('SIGKILL')]));
  await until('replicas ready', 30_000, async () => (await a.readyz()) === 200 && (await b.readyz()) === 200);
  const real = startTestLc('edge-1', [`ws://127.0.0.1:${a.wsPort}/`], await nodeToken(rest, ns, 'edge-1'));
  t.after(() => real.stop());
  await until('real LC served', 10_000, () => real.keys().includes('Dataset/ds-1'));
  // The connection Lease names replica a once written (2 s after connecting).
  await until('connection lease', 15_000, async () =>
    (await leases(rest, ns)).some((l) => l.metadata.name === 'fedmesh-lc-edge-1'),
  );

  const claim = async (port: number, node: string) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { 'Node-Name': node } });
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(String(d)));
    ws.on('error', () => {});
    const [code] = (await once(ws, 'close')) as [number];
    return { code, frames };
  };
  for (const [replica, port] of [
    ['same replica', a.wsPort],
    ['other replica', b.wsPort],
  ] as const) {
    const out = await claim(port, 'edge-1');
    assert.equal(out.code, 4403, `${replica}: the claim is refused`);
    assert.deepEqual(out.frames, [], `${replica}: the claimant got none of edge-1's objects`);
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(real.closes, [], 'the token-authenticated LC was never closed');
  assert.equal(real.lc.status().connected, true);

  // A node nobody proved can still be claimed (what the flag permits), and a token then takes it over.
  const squatter = new WebSocket(`ws://127.0.0.1:${b.wsPort}/`, { headers: { 'Node-Name': 'edge-2' } });
  const squatterClosed = once(squatter, 'close');
  squatter.on('error', () => {});
  await once(squatter, 'open');
  const owner = startTestLc('edge-2', [`ws://127.0.0.1:${a.wsPort}/`], await nodeToken(rest, ns, 'edge-2'));
  t.after(() => owner.stop());
  await until('owner served', 10_000, () => owner.keys().includes('Dataset/ds-2'));
  const [code] = (await squatterClosed) as [number];
  assert.equal(code, 4409, 'the claimant on the other replica is closed once the proven LC holds the node');
  assert.deepEqual(owner.closes, []);
});

test('spoofed node names that come and go leave no Lease and no metric series behind', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  const gm = await startReplica(env.plane, {
    id: 'a',
    namespace: ns,
    readyz: 'replica',
    args: [...HUB_ONLY, '--allow-unauthenticated-sedna-lc', '--max-connections-per-source', '20000'],
  });
  t.after(() => gm.proc.stop('SIGKILL'));
  await until('replica ready', 30_000, async () => (await gm.readyz()) === 200);
  const metrics = async () => (await fetch(`http://127.0.0.1:${gm.port}/metrics`)).text();

  const leaseWrites = async () =>
    Number(/fedmesh_hub_lease_writes_total\{result="ok"\} (\d+)/.exec(await metrics())?.[1] ?? 0);

  const TOTAL = 10_000;
  const BATCH = 2500;
  for (let start = 0; start < TOTAL; start += BATCH) {
    const before = await leaseWrites();
    const batch: WebSocket[] = [];
    for (let i = start; i < start + BATCH; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${gm.wsPort}/`, { headers: { 'Node-Name': `spoof-${i}` } });
      ws.on('error', () => {});
      batch.push(ws);
    }
    await Promise.all(batch.map((ws) => once(ws, 'open')));
    // Held until the hub wrote connection Leases for at least half of them.
    await until('connection leases written', 120_000, async () => (await leaseWrites()) - before >= BATCH / 2);
    for (const ws of batch) ws.terminate();
  }
  await until('every connection Lease deleted', 120_000, async () => (await leases(rest, ns)).length === 0);
  await until('no per-node series', 10_000, async () => !/fedmesh_hub_lc_connected\{/.test(await metrics()));
  assert.match(await metrics(), /fedmesh_hub_connections\{dialect="sedna"\} 0/);
});

test('idle, slow-header and silent connections are closed within the configured timeouts', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  const gm = await startReplica(env.plane, {
    id: 'a',
    namespace: ns,
    readyz: 'replica',
    args: [...HUB_ONLY, '--handshake-timeout', '1s', '--http-handshake-timeout', '1s', '--hello-timeout', '1s'],
  });
  t.after(() => gm.proc.stop('SIGKILL'));
  await until('replica ready', 30_000, async () => (await gm.readyz()) === 200);

  for (const port of [gm.wsPort, gm.port]) {
    const idle = connect(port, '127.0.0.1');
    assert.ok(await closesWithin(idle, 10_000), `an idle connection to ${port} is closed`);
    const slow = connect(port, '127.0.0.1');
    slow.on('connect', () => slow.write('GET / HTTP/1.1\r\n'));
    const drip = setInterval(() => slow.writable && slow.write('x-slow: 1\r\n'), 300);
    assert.ok(await closesWithin(slow, 10_000), `a slow-header sender to ${port} is closed`);
    clearInterval(drip);
  }
  // Upgraded with a valid token, then silent: no hello within --hello-timeout.
  const silent = new WebSocket(`ws://127.0.0.1:${gm.wsPort}/`, ['fedmesh.v1'], {
    headers: { authorization: `Bearer ${await nodeToken(rest, ns, 'edge-1')}` },
  });
  silent.on('error', () => {});
  const [code] = (await once(silent, 'close')) as [number];
  assert.equal(code, 4408);
  const text = await (await fetch(`http://127.0.0.1:${gm.port}/metrics`)).text();
  assert.match(text, /fedmesh_listener_handshake_timeouts_total\{listener="hub"\} [1-9]/);
  assert.match(text, /fedmesh_listener_handshake_timeouts_total\{listener="http"\} [1-9]/);
  // The hub still serves.
  const ok = await rawFedmesh(`ws://127.0.0.1:${gm.wsPort}/`, 'edge-1', await nodeToken(rest, ns, 'edge-1'));
  t.after(() => ok.ws.terminate());
  await until('welcome', 5000, () => ok.frames.some((f) => f.type === 'welcome'));
});
