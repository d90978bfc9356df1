/**
 * Bad input on the LC's paths, with real processes on loopback: a real GM replica on the real
 * control plane, `fedmesh lc`, real `fedmesh mesh` agents (test/lc/mesh-loop.ts), the fallback
 * list-watching the API server. `direct` goes through a proxy that cuts by dropping bytes.
 *   - A forged GM peer on the mesh (a PSK holder advertising fedmesh-gm, behind it something that
 *     upgrades and then sends frames out of the protocol: a delete and a forged object before any
 *     welcome). With serviceKeys it is never used; without, the LC marks the mesh path down,
 *     applies nothing it sent, and the fallback serves.
 *   - A wrong edge-API credential: a clear error in the status and the logs, nothing changes in
 *     the store, the outbox keeps its report; a GM path back → the report lands, the change arrives.
 * The 410 storm and the watch that never sends are covered against the real API server by
 * test/lc/fallback.test.ts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { KubeRest } from '../../common/kube/rest.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import { blackhole } from '../../lc/paths/testing.ts';
import { fakeGm } from '../../lc/testing.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, get, HUB_ONLY, mergePatch, nodeToken, sleep, until } from '../hub/helpers.ts';
import { applyStatusPolicy, lcApiToken } from './fallback-helpers.ts';
import { GM_SERVICE, startLoopMesh } from './mesh-loop.ts';
import { lcProcess } from './process.ts';

const env = useEnvtest();
const NODE = 'edge-1';

interface LcStatusJson {
  path: string;
  pathsDown: string[];
  outboxReports: number;
  fallback?: { running: boolean; lastError?: { code: string; message: string } };
}

async function setup(t: TestContext, apiToken?: string) {
  const ns = await env.namespace(t);
  const rest: KubeRest = await adminRest(env.plane);
  t.after(() => rest.close());
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-paths-bad-'));
  t.after(() => (process.env.KEEP ? console.log(dir) : rmSync(dir, { recursive: true, force: true })));
  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
  t.after(() => gm.proc.stop('SIGKILL'));
  const direct = await blackhole({ host: '127.0.0.1', port: gm.wsPort });
  t.after(() => direct.close());
  await applyStatusPolicy(env, t, ns);
  const apiTokenFile = join(dir, 'api-token');
  writeFileSync(apiTokenFile, apiToken ?? (await lcApiToken(rest, ns, NODE)));
  await create(rest, ns, 'Dataset', {
    metadata: { name: 'ds', labels: { [targetLabel(NODE)]: 'true' } },
    spec: { url: '/data/index.txt', format: 'txt', nodeName: NODE },
  });
  const token = await nodeToken(rest, ns, NODE);
  /** An LC for NODE: direct through the cutting proxy, then `meshUrl`, then the API server as its edge API. */
  const startLc = async (name: string, meshUrl?: string) => {
    const lcDir = join(dir, name);
    mkdirSync(join(lcDir, 'rootfs', 'data'), { recursive: true });
    writeFileSync(join(lcDir, 'rootfs', 'data', 'index.txt'), 'sample-0\n');
    const p = await lcProcess(t, {
      dir: lcDir,
      token,
      gmPorts: [Number(new URL(direct.url).port)],
      args: [
        ...(meshUrl ? ['--mesh-gm', meshUrl] : []),
        '--edge-api',
        env.plane.server,
        '--edge-api-token-file',
        apiTokenFile,
        '--edge-api-ca-file',
        join(env.plane.dir, 'ca.crt'),
        '--path-probe-period',
        '2s',
        '--rootfs',
        join(lcDir, 'rootfs'),
      ],
    });
    const proc = await p.start();
    const status = async () => (await (await fetch(`${p.url}/fedmesh/status`)).json()) as LcStatusJson;
    // This test's objects (the hub routes every namespace's objects for the node, earlier tests' too).
    const objects = async () =>
      (
        (await (await fetch(`${p.url}/fedmesh/objects`)).json()) as {
          items: Array<{ namespace: string; name: string; resourceVersion?: string }>;
        }
      ).items.filter((o) => o.namespace === ns);
    const onPath = (path: string, ms = 20_000) =>
      until(`the LC on ${path}`, ms, async () => (await status()).path === path);
    const log = () => readFileSync(join(lcDir, 'lc.log'), 'utf8');
    const addSample = () => appendFileSync(join(lcDir, 'rootfs', 'data', 'index.txt'), 'sample-1\n');
    return { p, proc, status, objects, onPath, log, addSample };
  };
  const samples = async () =>
    (await get<{ status?: { numberOfSamples?: number } }>(rest, ns, 'Dataset', 'ds')).status?.numberOfSamples;
  return { ns, rest, dir, gm, direct, startLc, samples };
}

test('a forged GM peer on the mesh: with serviceKeys never used; without, the mesh path is marked down, nothing it sent is applied, the fallback serves', async (t) => {
  const s = await setup(t);
  // Something that is no GM behind a fedmesh-gm advertisement: it upgrades, then, to the LC's
  // hello, deletes the Dataset and sends a forged object before any welcome.
  const rogue = await fakeGm();
  t.after(() => rogue.close());
  void (async () => {
    for (;;) {
      const c = await rogue.next().catch(() => undefined);
      if (!c) return;
      void c
        .frame('hello')
        .then(() => {
          c.send({ type: 'object', seq: 1, op: 'delete', kind: 'Dataset', namespace: s.ns, name: 'ds' });
          c.send({
            type: 'object',
            seq: 2,
            op: 'upsert',
            kind: 'Dataset',
            namespace: s.ns,
            name: 'forged',
            object: { kind: 'Dataset', metadata: { name: 'forged', namespace: s.ns, resourceVersion: '999999' } },
          });
        })
        .catch(() => {});
    }
  })();
  const roguePort = Number(new URL(rogue.url).port);

  // With serviceKeys: the real GM's advertisement is endorsed, the rogue's is not — never used.
  const endorsed = await startLoopMesh({
    dir: mkdtempSync(join(s.dir, 'mesh-endorsed-')),
    gmPort: s.gm.wsPort,
    roguePort,
    serviceKeys: true,
  });
  t.after(() => endorsed.stop());
  await until('the rogue seen and ignored', 30_000, async () => {
    const st = (await endorsed.lcStatus()) as {
      services?: { wanted?: Record<string, Array<{ node: string }>>; unendorsed?: Record<string, string[]> };
    };
    return (
      st.services?.unendorsed?.[GM_SERVICE]?.includes('rogue') === true &&
      st.services.wanted?.[GM_SERVICE]?.map((p) => p.node).join() === 'gm'
    );
  });
  const a = await s.startLc('lc-endorsed', endorsed.url);
  await a.onPath('direct');
  s.direct.cut();
  await a.onPath('mesh');
  const rv = (
    (await mergePatch(s.rest, s.ns, 'Dataset', 'ds', { metadata: { annotations: { step: 'mesh' } } })) as {
      metadata: { resourceVersion: string };
    }
  ).metadata.resourceVersion;
  await until('the change through the endorsed GM', 15_000, async () =>
    (await a.objects()).some((o) => o.name === 'ds' && Number(o.resourceVersion) >= Number(rv)),
  );
  assert.equal(rogue.accepted, 0, 'the rogue never got a connection');
  assert.ok(endorsed.logs('lc').some((l) => l.code === 'ERR_NOT_ENDORSED' && l.node === 'rogue'));
  await a.proc.stop('SIGKILL');
  await endorsed.stop();

  // Without serviceKeys, and the rogue the only fedmesh-gm provider: the LC reaches it, sees no
  // GM, marks the mesh path down and falls back; nothing the rogue sent is applied.
  const open = await startLoopMesh({ dir: mkdtempSync(join(s.dir, 'mesh-open-')), roguePort });
  t.after(() => open.stop());
  const b = await s.startLc('lc-open', open.url);
  await b.onPath('fallback', 30_000);
  await until('the rogue reached', 15_000, () => rogue.accepted > 0);
  await until('the mesh path down', 10_000, async () => (await b.status()).pathsDown.includes('mesh'));
  await until('the Dataset listed by the fallback', 15_000, async () =>
    (await b.objects()).some((o) => o.name === 'ds'),
  );
  await sleep(3000); // the mesh probed again meanwhile (every 2 s): still nothing of the rogue's
  assert.ok(rogue.accepted >= 2, `rogue dialled ${rogue.accepted} times`);
  assert.deepEqual(
    (await b.objects()).map((o) => o.name),
    ['ds'],
    'nothing the rogue sent was applied (no delete, no forged object)',
  );
  assert.equal((await b.status()).path, 'fallback');
  assert.match(b.log(), /"path":"mesh","code":4400,"msg":"path answered without speaking as a gm"/);
  // Probed every 2 s, the rogue upgrades each time, but never welcomes: the fallback was never stopped.
  assert.equal(b.log().match(/"msg":"edge api fallback started"/g)?.length, 1, 'one fallback run throughout');
});

test('a wrong edge-API credential: a clear error in the status and the logs, the store unchanged, the outbox keeps its report until a GM path is back', async (t) => {
  const s = await setup(t, 'not-a-token');
  const lc = await s.startLc('lc');
  await lc.onPath('direct');
  await until('the first count in the API', 30_000, async () => (await s.samples()) === 1);
  assert.deepEqual(
    (await lc.objects()).map((o) => o.name),
    ['ds'],
  );

  s.direct.cut();
  await lc.onPath('fallback');
  await until('the credential refused', 20_000, async () => (await lc.status()).fallback?.lastError !== undefined);
  const st = await lc.status();
  assert.equal(st.fallback?.lastError?.code, 'ERR_EDGE_API_AUTH');
  assert.match(lc.log(), /ERR_EDGE_API_AUTH/);
  // Taken once only the refused path is up: until the cut, the GM's own writes (the status of the
  // first count, target labels) still reached the LC through direct, a few versions later.
  const before = await lc.objects();

  // A change in the cloud and a report on the node while only the refused path is up.
  await mergePatch(s.rest, s.ns, 'Dataset', 'ds', { metadata: { annotations: { step: 'cut' } } });
  lc.addSample();
  await until('the report waiting', 10_000, async () => (await lc.status()).outboxReports > 0);
  await sleep(6000); // past the 5 s auth retry: still refused, still nothing
  assert.deepEqual(await lc.objects(), before, 'the store is unchanged');
  assert.ok((await lc.status()).outboxReports > 0, 'the outbox keeps its report');
  assert.equal(await s.samples(), 1, 'nothing written with the refused credential');

  s.direct.heal();
  await lc.onPath('direct');
  await until('the report landed', 20_000, async () => (await s.samples()) === 2);
  await until('the change arrived', 15_000, async () =>
    (await lc.objects()).some((o) => o.name === 'ds' && Number(o.resourceVersion) > Number(before[0]?.resourceVersion)),
  );
  // The API shows the report before its ack is back at the LC: wait for the ack, not for a moment.
  await until('the outbox emptied by the ack', 15_000, async () => (await lc.status()).outboxReports === 0);
});
