import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import type { SignedRecord } from '../records/record.ts';
import { createHealthAgent, type HealthAgentComponents } from './agent.ts';
import { resolveHealthConfig } from './config.ts';
import { bumpEpoch, EPOCH_FILE } from './epoch.ts';
import { decodeView, type HealthView, signView } from './view.ts';

const WALL = Date.UTC(2026, 0, 1);

async function setup(
  t: { after(fn: () => unknown): void },
  opts: {
    zones?: Record<string, string>;
    config?: Record<string, unknown>;
    rest?: KubeRest;
    running?: boolean;
    addrs?: Record<string, string[]>;
    ping?: HealthAgentComponents['ping'];
    dial?: HealthAgentComponents['dial'];
  } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'fm-health-agent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = new Map<string, PrivateKey>();
  for (const n of ['a', 'b', 'c', 'evil']) keys.set(n, await generateKeyPair('Ed25519'));
  const peer = (n: string) => peerIdFromPrivateKey(keys.get(n) as PrivateKey).toString();
  const pinned = ['b', 'c', 'evil'];
  const directory: HealthAgentComponents['directory'] = {
    peerOf: (n) => (pinned.includes(n) ? peer(n) : undefined),
    get: (n) =>
      pinned.includes(n)
        ? ({ record: { zone: opts.zones?.[n], addrs: opts.addrs?.[n] ?? [] } } as unknown as SignedRecord)
        : undefined,
    pins: () => pinned.map((name) => ({ name, peerId: peer(name) })),
  };
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({
    component: 'test',
    level: 'debug',
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  });
  let mono = 1_000;
  // A started agent needs its periods to take real time, or its loop never yields.
  const clock = {
    now: () => mono,
    wall: () => WALL,
    sleep: opts.running ? (_ms: number, signal: AbortSignal) => sleep(20, signal) : async () => {},
  };
  const registry = createRegistry();
  const zones = opts.zones ? { zones: { enabled: true } } : {};
  const agent = await createHealthAgent(
    {
      self: 'a',
      peerId: peer('a'),
      stateDir: dir,
      zone: opts.zones?.a,
      config: resolveHealthConfig({ ...zones, ...opts.config }),
    },
    {
      key: keys.get('a') as PrivateKey,
      directory,
      libp2p: { handle: async () => {}, unhandle: async () => {} },
      connect: opts.ping ? async () => ({}) as never : () => Promise.reject(new Error('no network in this test')),
      ping: opts.ping ?? (() => Promise.reject(new Error('no network in this test'))),
      log,
      registry,
      clock,
      rest: opts.rest,
      dial: opts.dial,
    },
  );
  let seq = 0;
  /** A view claiming to be from `voter`, signed with `signer`'s key. */
  const view = async (voter: string, verdicts: HealthView['verdicts'], signer = voter, zone = '*') =>
    (
      await signView(
        { v: 1, voter, peerId: peer(signer), epoch: 1, seq: seq++, time: WALL, zone, verdicts },
        keys.get(signer) as PrivateKey,
      )
    ).bytes;
  return { agent, view, lines, registry, dir, peer, tick: (ms: number) => (mono += ms) };
}

const sick = { state: 'unhealthy', lastOkAt: null } as const;
const fine = { state: 'healthy', lastOkAt: WALL } as const;

test('health agent: received views make the tally; a forged view changes nothing, is counted and logged once', async (t) => {
  const { agent, view, lines, registry } = await setup(t);
  assert.equal(await agent.receive(await view('b', { a: fine, c: sick, evil: sick })), true);
  assert.equal(await agent.receive(await view('evil', { a: fine, b: fine, c: sick })), true);
  const before = agent.status();
  assert.equal(before.zone, '*');
  assert.deepEqual(
    before.nodes.map((n) => [n.node, n.outcome, n.for, n.against, n.voters]),
    [
      ['a', 'healthy', 2, 0, 2],
      ['b', 'healthy', 1, 0, 2],
      ['c', 'unhealthy', 0, 2, 2],
      ['evil', 'unknown', 0, 1, 2],
    ],
  );
  // evil signs views claiming to be c and b with its own key: refused, nothing counted.
  for (const forged of [
    await view('c', { a: sick, b: sick, evil: fine }, 'evil'),
    await view('b', { a: sick, c: fine }, 'evil'),
  ]) {
    assert.equal(await agent.receive(forged), false);
  }
  assert.deepEqual(agent.status(), before);
  const text = registry.render();
  assert.match(text, /fedmesh_mesh_health_views_total\{result="accepted"\} 2/);
  assert.match(text, /fedmesh_mesh_health_views_total\{result="ERR_VIEW_KEY_MISMATCH"\} 2/);
  assert.match(text, /fedmesh_mesh_health_nodes\{outcome="healthy"\} 2/);
  assert.match(text, /fedmesh_mesh_health_nodes\{outcome="unhealthy"\} 1/);
  assert.match(text, /fedmesh_mesh_health_nodes\{outcome="unknown"\} 1/);
  const logged = lines.filter((l) => l.msg === 'health view rejected');
  assert.deepEqual(
    logged.map((l) => l.code),
    ['ERR_VIEW_KEY_MISMATCH'],
    'rate-limited: one line per code per interval',
  );
});

test('health agent: the rejection log is rate-limited per code, with the suppressed count', async (t) => {
  const { agent, view, lines, tick } = await setup(t);
  const bytes = await view('b', { a: fine });
  await agent.receive(bytes);
  for (let i = 0; i < 3; i++) await agent.receive(bytes); // replays
  await agent.receive(await view('zz', { a: fine }, 'evil')); // no key pinned for zz: another code
  tick(10_001);
  await agent.receive(bytes);
  const logged = lines.filter((l) => l.msg === 'health view rejected').map((l) => [l.code, l.suppressed]);
  assert.deepEqual(logged, [
    ['ERR_VIEW_REPLAY', 0],
    ['ERR_VIEW_UNKNOWN_VOTER', 0],
    ['ERR_VIEW_REPLAY', 2],
  ]);
});

test('health agent: zones from the records; a view from another zone is refused', async (t) => {
  const { agent, view } = await setup(t, { zones: { a: 'z1', b: 'z1', c: 'z2', evil: 'z1' } });
  assert.equal(agent.status().zone, 'z1');
  assert.deepEqual(
    agent.status().nodes.map((n) => n.node),
    ['a', 'b', 'evil'],
  );
  assert.equal(await agent.receive(await view('b', { a: fine }, 'b', 'z1')), true);
  assert.equal(await agent.receive(await view('c', { a: sick }, 'c', 'z2')), false);
  assert.equal(await agent.receive(await view('b', { c: sick }, 'b', 'z1')), false);
});

test('health epoch: bumped at every start, continued from the clock when the file is corrupt', async (t) => {
  const { agent, dir } = await setup(t);
  assert.equal(agent.epoch, 1);
  assert.equal(await bumpEpoch(dir), 2);
  assert.equal(await bumpEpoch(dir), 3);
  assert.equal((await readFile(join(dir, EPOCH_FILE), 'utf8')).trim(), '3');
  await writeFile(join(dir, EPOCH_FILE), 'garbage');
  assert.equal(await bumpEpoch(dir, { wall: () => 5_000_000 }), 5_001);
  assert.equal(await bumpEpoch(dir), 5_002);
});

test('health agent: zones off, a view judging a node not met yet is accepted; the tally lists known nodes', async (t) => {
  const { agent, view } = await setup(t);
  assert.equal(await agent.receive(await view('b', { a: fine, newcomer: sick })), true);
  assert.deepEqual(
    agent.status().nodes.map((n) => n.node),
    ['a', 'b', 'c', 'evil'],
  );
});

test("health agent with publish: writes its own and its peers' views to its ConfigMap, unchanged", async (t) => {
  const writes: { method: string; path: string; body: { data: Record<string, string> } }[] = [];
  const rest = {
    server: 'https://api.invalid',
    request: async (method: string, path: string, init?: { body?: unknown }) => {
      writes.push({ method, path, body: init?.body as { data: Record<string, string> } });
      return {};
    },
    watch: () => {
      throw new Error('not used');
    },
    close: () => {},
  } as unknown as KubeRest;
  const { agent, view } = await setup(t, {
    config: { period: '200ms', publish: { namespace: 'sedna' } },
    rest,
    running: true,
  });
  const fromB = await view('b', { a: fine });
  await agent.receive(fromB);
  const ac = new AbortController();
  const running = agent.start(ac.signal);
  for (let i = 0; i < 100 && !writes.some((w) => w.body?.data?.view); i++) await new Promise((r) => setTimeout(r, 10));
  ac.abort();
  await running;
  const w = writes.find((x) => x.body?.data?.view);
  assert.ok(w, 'a write with the own view');
  assert.equal(w.method, 'PATCH');
  assert.equal(w.path, '/api/v1/namespaces/sedna/configmaps/fedmesh-health-a');
  assert.equal(w.body.data['relay.b'], new TextDecoder().decode(fromB));
  assert.match(w.body.data.view ?? '', /"payload"/);
});

test('health agent probes over the mesh and directly: either path answering makes a member healthy', async (t) => {
  let meshUp = '';
  const dialled: string[] = [];
  const { agent, registry, peer } = await setup(t, {
    config: { period: '1s', failureThreshold: 1 },
    running: true,
    // b: mesh only (no direct address); c: direct only (its mesh ping fails); evil: neither answers.
    addrs: {
      c: ['/ip4/10.0.0.3/tcp/4001', '/ip4/127.0.0.1/tcp/4001', '/ip4/1.2.3.4/tcp/1/p2p-circuit'],
      evil: ['/ip4/10.0.0.9/tcp/4001'],
    },
    ping: async (peer) => {
      if (peer.toString() !== meshUp) throw new Error('mesh ping failed');
    },
    dial: async (addrs) => {
      dialled.push(...addrs.map((a) => `${a.host}:${a.port}`));
      return addrs.some((a) => a.host === '10.0.0.3');
    },
  });
  meshUp = peer('b');
  const ac = new AbortController();
  t.after(() => ac.abort());
  void agent.start(ac.signal);
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  const byNode = new Map(agent.status().nodes.map((n) => [n.node, n]));
  assert.deepEqual(byNode.get('c')?.paths, { mesh: false, direct: true });
  assert.deepEqual(byNode.get('evil')?.paths, { mesh: false, direct: false });
  assert.deepEqual(byNode.get('b')?.paths?.direct, null);
  const own = decodeView(agent.heldViews().own as Uint8Array).view.verdicts;
  assert.deepEqual(
    { b: own.b?.state, c: own.c?.state, evil: own.evil?.state },
    { b: 'healthy', c: 'healthy', evil: 'unhealthy' },
  );
  assert.ok(dialled.includes('10.0.0.3:4001') && !dialled.some((d) => d.startsWith('127.') || d.startsWith('1.2.3.4')));
  const text = registry.render();
  assert.match(text, /fedmesh_mesh_health_probes_total\{path="direct",result="ok"\} [1-9]/);
  assert.match(text, /fedmesh_mesh_health_probes_total\{path="direct",result="none"\} [1-9]/);
});
