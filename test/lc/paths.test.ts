/**
 * LC paths on a real network (issue 14): real processes in network namespaces — a GM replica on
 * the real control plane with its mesh sidecar advertising `fedmesh-gm`, a relay, and an edge node
 * behind a NAT running its mesh agent (`--forward 127.0.0.1:19000=@fedmesh-gm`) and `fedmesh lc`
 * with all three paths: the fallback list-watches through the API server over its own route, with
 * the identity deploy/lc-status-policy.yaml grants. Cuts drop packets with nftables in the edge node
 * (no RST, no FIN), one table per cut so each can be restored on its own.
 *
 *   pub   r1 (relay), c (GM replica: hub 0.0.0.0:9000; mesh advertises fedmesh-gm → 9000),
 *         the root namespace (API server)
 *   lanb  b1 (mesh agent with the forward; LC: --gm ws://c:9000/ --mesh-gm ws://127.0.0.1:19000/
 *         --edge-api https://root:PORT), behind a NAT
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import { installCrds } from '../../crds/install.ts';
import type { Host } from '../../netlab/index.ts';
import { type Envtest, startControlPlane } from '../envtest/index.ts';
import { create, get, incrementalJob, mergePatch, nodeToken, startIncrementalJob } from '../hub/helpers.ts';
import { createMeshLab, until } from '../mesh/harness.ts';
import { applyStatusPolicy, lcApiToken } from './fallback-helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');
const HUB_PORT = 9000;
const FWD_PORT = 19000;
const LC_HTTP = '127.0.0.1:9200';
const NODE = 'edge-1';

interface LcStatusJson {
  path: string;
  outboxReports: number;
  pathSwitches: number;
  connected: boolean;
  pathsDown: string[];
}

async function lcGet<T>(b1: Host, path: string): Promise<T | undefined> {
  const r = await b1.exec('curl', ['-fsS', '-m', '2', `http://${LC_HTTP}${path}`]);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

/** Drops the packets `out` / `in` match, both ways, in b1 (nftables table `cut-NAME`). */
async function drop(b1: Host, name: string, out: string, inbound: string) {
  const table = `cut-${name}`;
  const script = [
    `table inet ${table} {`,
    `  chain out { type filter hook output priority 0; ${out} drop; }`,
    `  chain in { type filter hook input priority 0; ${inbound} drop; }`,
    '}',
  ].join('\n');
  const file = join(tmpdir(), `fedmesh-${table}-${process.pid}.nft`);
  writeFileSync(file, script);
  const r = await b1.exec('nft', ['-f', file]);
  assert.equal(r.code, 0, `nft: ${r.stderr}`);
}

async function heal(b1: Host, name: string) {
  const r = await b1.exec('nft', ['delete', 'table', 'inet', `cut-${name}`]);
  assert.equal(r.code, 0, `nft: ${r.stderr}`);
}

test('LC paths: direct cut → mesh tunnel; relay killed → continues; mesh cut → fallback (own node only, reports written); mesh back → mesh; direct back → direct; everything cut → serves from its store, reports wait; restored → reconnects, catches up, reports land; every IL report exactly once', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'c', 'b1'], mapping: 'endpoint-independent' });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  await installCrds(plane.kubeConfig());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
  const ns = 'lc-paths';
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  const tokenFile = join(m.dir, 'token');
  writeFileSync(tokenFile, await nodeToken(rest, ns, NODE));
  await applyStatusPolicy({ kubeConfig: () => plane.kubeConfig() } as Envtest, t, ns);
  const apiTokenFile = join(m.dir, 'api-token');
  writeFileSync(apiTokenFile, await lcApiToken(rest, ns, NODE));

  // The cloud node: a GM replica (hub only) and its mesh sidecar advertising the hub.
  const c = m.host('c');
  const gm = c.spawn({
    name: 'gm c',
    cmd: process.execPath,
    args: [
      CLI,
      'gm',
      '--kubeconfig',
      plane.kubeconfigPath,
      '--id',
      'c',
      '--lease-namespace',
      ns,
      '--http-listen',
      '127.0.0.1:8080',
      '--readyz',
      'replica',
      '--ws-listen',
      `0.0.0.0:${HUB_PORT}`,
      '--no-operators',
    ],
    logFile: join(m.dir, 'gm.log'),
  });
  t.after(() => gm.stop('SIGKILL'));
  const r1 = await m.start('r1', { relays: ['r1'] });
  await m.start('c', { config: m.config(['r1'], { advertise: [{ name: 'fedmesh-gm', port: HUB_PORT }] }) });
  await m.start('b1', { relays: ['r1'], forwards: [`127.0.0.1:${FWD_PORT}=@fedmesh-gm`] });

  // The Dataset's index on the node: the LC counts its lines and reports them (an upstream report
  // that must land whatever the path, or wait in the outbox while there is none).
  const rootfs = join(m.dir, 'rootfs');
  mkdirSync(join(rootfs, 'data'), { recursive: true });
  const index = join(rootfs, 'data', 'index.txt');
  writeFileSync(index, 'sample-0\n');
  let lines = 1;
  const addSample = () => appendFileSync(index, `sample-${lines++}\n`);
  const samples = async () =>
    (
      (await rest.request('GET', `/apis/sedna.io/v1alpha1/namespaces/${ns}/datasets/ds`)) as {
        status?: { numberOfSamples?: number };
      }
    ).status?.numberOfSamples;
  const counted = (what: string, ms = 20_000) =>
    until(`${what}: ${lines} samples in the API`, async () => ((await samples()) === lines ? true : undefined), ms);

  // The edge node's LC: direct first, the mesh forward second, the edge API (the API server) last.
  const b1 = m.host('b1');
  const lc = b1.spawn({
    name: 'lc b1',
    cmd: process.execPath,
    args: [
      CLI,
      'lc',
      '--node',
      NODE,
      '--gm',
      `ws://${m.addr('c')}:${HUB_PORT}/`,
      '--mesh-gm',
      `ws://127.0.0.1:${FWD_PORT}/`,
      '--http-listen',
      LC_HTTP,
      '--state-dir',
      join(m.dir, 'lc-state'),
      '--token-file',
      tokenFile,
      '--edge-api',
      plane.server,
      '--edge-api-token-file',
      apiTokenFile,
      '--edge-api-ca-file',
      join(plane.dir, 'ca.crt'),
      '--path-probe-period',
      '2s',
      '--rootfs',
      rootfs,
    ],
    logFile: join(m.dir, 'lc.log'),
  });
  t.after(() => lc.stop('SIGKILL'));
  const status = () => lcGet<LcStatusJson>(b1, '/fedmesh/status');
  const onPath = (path: string, ms: number) =>
    until(`the LC on ${path}`, async () => ((await status())?.path === path ? true : undefined), ms);
  await onPath('direct', 60_000);

  // One Dataset of this node, changed at every step: its resourceVersion must reach the LC.
  // Labelled for its node as the GM leader's labeler would (the replica here runs the hub only).
  await create(rest, ns, 'Dataset', {
    metadata: { name: 'ds', labels: { [targetLabel(NODE)]: 'true' } },
    spec: { url: '/data/index.txt', format: 'txt', nodeName: NODE },
  });
  const change = async (n: number) => {
    const r = (await mergePatch(rest, ns, 'Dataset', 'ds', { metadata: { annotations: { step: String(n) } } })) as {
      metadata: { resourceVersion: string };
    };
    return r.metadata.resourceVersion;
  };
  const held = async () =>
    (await lcGet<{ items: Array<{ name: string; resourceVersion?: string }> }>(b1, '/fedmesh/objects'))?.items.find(
      (o) => o.name === 'ds',
    )?.resourceVersion;
  const reaches = (rv: string, what: string, ms = 15_000) =>
    until(
      `${what}: version ${rv} at the LC`,
      async () => (Number((await held()) ?? 0) >= Number(rv) ? true : undefined),
      ms,
    );
  await reaches(await change(0), 'on direct');
  await counted('the first count, on direct', 30_000);

  // Reports of a non-coalescing kind across every switch: an IL job reading the Dataset, and a
  // worker's stage report at each step (each naming its number in its output model's URL). Every
  // one the LC accepts must become exactly one condition in the API, whatever path carried it.
  const job = incrementalJob('il', 'ds') as { metadata: Record<string, unknown> };
  job.metadata.labels = { [targetLabel(NODE)]: 'true' };
  await create(rest, ns, 'IncrementalLearningJob', job);
  await startIncrementalJob(rest, ns, 'il');
  await until(
    'the IL job at the LC',
    async () =>
      (await lcGet<{ items: Array<{ name: string }> }>(b1, '/fedmesh/objects'))?.items.some((o) => o.name === 'il')
        ? true
        : undefined,
    20_000,
  );
  let accepted = 0;
  const stageReport = async () => {
    const body = {
      name: 'il-train-worker',
      namespace: ns,
      ownerName: 'il',
      ownerKind: 'incrementallearningjob',
      kind: 'train',
      status: 'waiting',
      results: [{ format: 'pb', url: `/paths/report/${accepted}` }],
    };
    const url = `http://${LC_HTTP}/sedna/workers/il-train-worker/info`;
    const r = await b1.exec('curl', [
      '-fsS',
      '-m',
      '2',
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify(body),
      url,
    ]);
    assert.equal(r.code, 0, `worker report ${accepted}: ${r.stderr}`);
    accepted++;
  };
  await stageReport();

  // Direct cut by dropping packets: the LC heartbeat notices, the mesh tunnel serves.
  const c4 = m.addr('c');
  await drop(b1, 'direct', `ip daddr ${c4} tcp dport ${HUB_PORT}`, `ip saddr ${c4} tcp sport ${HUB_PORT}`);
  const cutAt = performance.now();
  const rv1 = await change(1);
  await onPath('mesh', 15_000);
  await reaches(rv1, 'through the mesh');
  addSample();
  await counted('a report through the mesh');
  await stageReport();
  t.diagnostic(`direct cut → change applied through the mesh in ${Math.round(performance.now() - cutAt)} ms`);
  const s1 = await status();
  assert.deepEqual(s1?.pathsDown, ['direct']);

  // The relay dies: whatever route the tunnel used, changes keep reaching the LC through the mesh.
  r1.proc.signal('SIGKILL');
  await reaches(await change(2), 'with the relay gone', 30_000);
  await stageReport();

  // The mesh cut too (everything to and from the cloud node; the API server's route stays): the
  // fallback serves — this node's changes reach it, another node's object never does, and the
  // report is written through the edge API.
  await create(rest, ns, 'Dataset', {
    metadata: { name: 'other', labels: { [targetLabel('edge-2')]: 'true' } },
    spec: { url: '/data/index.txt', format: 'txt', nodeName: 'edge-2' },
  });
  await drop(b1, 'mesh', `ip daddr ${c4}`, `ip saddr ${c4}`);
  const meshCutAt = performance.now();
  const rvF = await change(10);
  await onPath('fallback', 15_000);
  await reaches(rvF, 'through the fallback');
  t.diagnostic(`mesh cut → change applied by the fallback in ${Math.round(performance.now() - meshCutAt)} ms`);
  addSample();
  await counted('a report written through the edge API');
  await stageReport();
  await stageReport();
  const objs = await lcGet<{ items: Array<{ name: string }> }>(b1, '/fedmesh/objects');
  assert.deepEqual(objs?.items.map((o) => o.name).sort(), ['ds', 'il'], "another node's object never reaches the LC");

  // The mesh restored: the next probe takes the LC back to a GM, the fallback stops.
  await heal(b1, 'mesh');
  const meshBackAt = performance.now();
  await onPath('mesh', 10_000);
  t.diagnostic(`mesh restored → back on the mesh in ${Math.round(performance.now() - meshBackAt)} ms`);
  await reaches(await change(11), 'back on the mesh');
  await stageReport();
  const fb = await lcGet<{ fallback?: { running: boolean; objectsReceived: number } }>(b1, '/fedmesh/status');
  assert.equal(fb?.fallback?.running, false);

  // Direct restored: the next probe (every 2 s) takes the LC back.
  await heal(b1, 'direct');
  const healedAt = performance.now();
  await onPath('direct', 10_000);
  t.diagnostic(`direct restored → back on direct in ${Math.round(performance.now() - healedAt)} ms`);
  await reaches(await change(3), 'back on direct');
  await stageReport();

  // Everything cut, the edge API too: no path; the LC keeps serving its store (objects, readiness).
  await drop(b1, 'all', 'oifname != "lo"', 'iifname != "lo"');
  await until('no path', async () => ((await status())?.path === 'none' ? true : undefined), 15_000);
  const rv4 = await change(4);
  await sleep(1000);
  assert.ok(Number(await held()) < Number(rv4), 'nothing reaches the LC');
  assert.ok((await held()) !== undefined, 'the LC still serves its stored objects');
  const ready = await b1.exec('curl', ['-fsS', '-m', '2', `http://${LC_HTTP}/readyz`]);
  assert.equal(ready.code, 0);
  addSample();
  addSample(); // counted and reported while no path is up: waits in the outbox
  await stageReport();
  await stageReport();
  await until(
    'the report waiting in the outbox',
    async () => {
      const st = await lcGet<{ outboxReports: number }>(b1, '/fedmesh/status');
      return st && st.outboxReports > 0 ? true : undefined;
    },
    10_000,
  );

  // Restored: it reconnects and catches up.
  await heal(b1, 'all');
  await until('a path again', async () => ((await status())?.connected ? true : undefined), 30_000);
  await reaches(rv4, 'after the restore', 30_000);
  await counted('the outbox drained after the restore');
  await stageReport();
  await until('the outbox empty', async () => ((await status())?.outboxReports === 0 ? true : undefined), 20_000);
  const conds =
    (await get<{ status?: { conditions?: Array<{ data?: string }> } }>(rest, ns, 'IncrementalLearningJob', 'il')).status
      ?.conditions ?? [];
  const landed = conds
    .map(
      (c) => (JSON.parse(c.data ?? '{}') as { output?: { models?: Array<{ url?: string }> } }).output?.models?.[0]?.url,
    )
    .filter((u) => u?.startsWith('/paths/report/'));
  assert.deepEqual(
    landed,
    Array.from({ length: accepted }, (_, k) => `/paths/report/${k}`),
    'every IL report the LC accepted landed exactly once, in order, across direct → mesh → fallback → mesh → direct → none → restored',
  );
  // The Dataset's count is coalesced (last write wins): the API holds the last one (`counted` above).
  const metrics = await b1.exec('curl', ['-fsS', '-m', '2', `http://${LC_HTTP}/metrics`]);
  assert.match(metrics.stdout, /^fedmesh_lc_path_switches_total\{from="direct",to="mesh"\} [1-9]/m);
  assert.match(metrics.stdout, /^fedmesh_lc_path_switches_total\{from="mesh",to="direct"\} [1-9]/m);
  assert.match(metrics.stdout, /^fedmesh_lc_path_switches_total\{from="mesh",to="fallback"\} [1-9]/m);
  assert.match(metrics.stdout, /^fedmesh_lc_path_switches_total\{from="fallback",to="mesh"\} [1-9]/m);
  assert.match(metrics.stdout, /^fedmesh_lc_path_active\{path="(direct|mesh)"\} 1$/m);
  const logs = await b1.exec('cat', [join(m.dir, 'lc.log')]);
  assert.match(logs.stdout, /"msg":"path switched"/);
});
