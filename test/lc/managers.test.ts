/**
 * The LC's managers end to end: a real LC process, a real GM process, the real control plane.
 * Datasets on the node are counted from a local index file under --rootfs (seen through fs.watch)
 * and from an s3:// object on a real S3-compatible server; counts made with no GM wait in the
 * outbox; a worker naming another node's job is refused at the LC, and nothing is sent.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { exampleObject } from '../../examples/index.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, federatedJob, get, HUB_ONLY, nodeToken, until } from '../hub/helpers.ts';
import { startS3Server } from '../s3/index.ts';
import { lcProcess } from './process.ts';

const env = useEnvtest();

async function setup(t: TestContext) {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-managers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rootfs = join(dir, 'rootfs');
  const creds = join(dir, 'credentials');
  mkdirSync(rootfs);
  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
  t.after(() => gm.proc.stop('SIGKILL'));
  const lcp = await lcProcess(t, {
    dir,
    token: await nodeToken(rest, ns, 'edge-1'),
    gmPorts: [gm.wsPort],
    // s3:// objects are polled; local files are watched, so this period is not what they wait for.
    args: ['--rootfs', rootfs, '--credentials-dir', creds, '--dataset-period', '1s'],
  });
  const lc = await lcp.start();
  const { url: lcUrl, metric } = lcp;
  const samples = async (name: string) =>
    (await get<{ status?: { numberOfSamples?: number } }>(rest, ns, 'Dataset', name)).status?.numberOfSamples;
  return { ns, rest, gm, lc, lcUrl, rootfs, creds, metric, samples };
}

const datasetObj = (name: string, url: string, credentialName?: string) => ({
  metadata: { name },
  spec: { url, format: 'txt', nodeName: 'edge-1', ...(credentialName ? { credentialName } : {}) },
});

test('LC dataset manager: a local index file is counted into status.numberOfSamples, an appended sample follows, and a count made with no GM lands once it is back', async (t) => {
  const { ns, rest, gm, rootfs, metric, samples } = await setup(t);
  mkdirSync(join(rootfs, 'data', 'ds-local'), { recursive: true });
  const file = join(rootfs, 'data', 'ds-local', 'index.txt');
  writeFileSync(file, 'a.jpg\nb.jpg\nc.jpg\n');
  await create(rest, ns, 'Dataset', datasetObj('ds-local', '/data/ds-local/index.txt'));
  await until('the first count in the API', 30_000, async () => (await samples('ds-local')) === 3);

  const appended = performance.now();
  appendFileSync(file, 'd.jpg\n');
  await until('the appended sample in the API', 30_000, async () => (await samples('ds-local')) === 4);
  t.diagnostic(`append -> numberOfSamples in the API: ${((performance.now() - appended) / 1000).toFixed(2)} s`);

  // No GM: the new count waits in the outbox, and lands when a GM is back where the LC looks.
  await gm.proc.stop('SIGKILL');
  await until('the LC sees the GM gone', 20_000, async () => (await metric('fedmesh_lc_gm_connected')) === 0);
  appendFileSync(file, 'e.jpg\nf.jpg\n');
  await until('the count waits in the outbox', 20_000, async () => (await metric('fedmesh_lc_outbox_reports')) === 1);
  assert.equal(await samples('ds-local'), 4);
  const again = await startReplica(env.plane, {
    id: 'b',
    namespace: ns,
    readyz: 'replica',
    args: HUB_ONLY,
    wsPort: gm.wsPort,
  });
  t.after(() => again.proc.stop('SIGKILL'));
  await until('the offline count in the API', 30_000, async () => (await samples('ds-local')) === 6);
  await until('the outbox drained', 10_000, async () => (await metric('fedmesh_lc_outbox_reports')) === 0);
});

test('LC dataset manager: an s3:// index on a real S3-compatible server, with the credential of spec.credentialName', async (t) => {
  const s3 = await startS3Server();
  t.after(() => s3.stop());
  const { ns, rest, creds, samples } = await setup(t);
  const secret = join(creds, ns, 's3-cred');
  mkdirSync(secret, { recursive: true });
  writeFileSync(join(secret, 'ACCESS_KEY_ID'), 'fedmesh');
  writeFileSync(join(secret, 'SECRET_ACCESS_KEY'), 'fedmesh-secret');
  writeFileSync(join(secret, 'S3_ENDPOINT'), s3.endpoint.replace('http://', ''));
  writeFileSync(join(secret, 'S3_USE_HTTPS'), '0');
  await s3.put('datasets', 'helmet/train index.txt', 'a\nb\n');
  await create(rest, ns, 'Dataset', datasetObj('ds-s3', 's3://datasets/helmet/train index.txt', 's3-cred'));
  await until('the S3 count in the API', 30_000, async () => (await samples('ds-s3')) === 2);
  await s3.put('datasets', 'helmet/train index.txt', 'a\nb\nc\nd\ne\n');
  await until('the new S3 count (next period)', 30_000, async () => (await samples('ds-s3')) === 5);
  // Without its credential the object is not read (and nothing is reported).
  await create(rest, ns, 'Dataset', datasetObj('ds-s3-nocred', 's3://datasets/helmet/train index.txt', 'missing'));
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(await samples('ds-s3-nocred'), undefined);
});

test("LC worker API: a worker naming another node's job is refused (404) and nothing is stored or sent; this node's service reports", async (t) => {
  const { ns, rest, lcUrl, metric } = await setup(t);
  await create(rest, ns, 'FederatedLearningJob', federatedJob('fl-edge-2', ['edge-2']));
  const jis = exampleObject('JointInferenceService/helmet-detection-inference-example') as {
    metadata: Record<string, unknown>;
    spec: { edgeWorker: { template: { spec: { nodeName: string } } } };
  };
  jis.metadata = { name: 'jis-1' };
  jis.spec.edgeWorker.template.spec.nodeName = 'edge-1';
  await create(rest, ns, 'JointInferenceService', jis);
  const objects = async () =>
    ((await (await fetch(`${lcUrl}/fedmesh/objects`)).json()) as { items: Array<{ name: string }> }).items.map(
      (o) => o.name,
    );
  await until('the LC holds jis-1', 20_000, async () => (await objects()).includes('jis-1'));
  const post = (ownerKind: string, ownerName: string, ownerInfo: Record<string, unknown>) =>
    fetch(`${lcUrl}/sedna/workers/w1/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'w1',
        namespace: ns,
        ownerName,
        ownerKind,
        kind: 'train',
        status: 'running',
        ownerInfo,
      }),
    });
  const refused = await post('federatedlearningjob', 'fl-edge-2', { currentRound: 3 });
  const body = (await refused.json()) as { Status: number; Message: string };
  assert.deepEqual([refused.status, body.Status], [404, 404]);
  assert.match(body.Message, /fl-edge-2/);
  assert.equal(await metric('fedmesh_lc_outbox_reports'), 0, 'nothing stored');
  assert.equal(await metric('fedmesh_lc_reports_acked_total'), 0, 'nothing sent');

  const ok = await post('jointinferenceservice', 'jis-1', { inferenceNumber: 42, hardExampleNumber: 3 });
  assert.equal(ok.status, 200);
  await until('the JI metrics in the API', 20_000, async () => {
    const s = (
      await get<{ status?: { metrics?: Array<{ key: string; value: string }> } }>(
        rest,
        ns,
        'JointInferenceService',
        'jis-1',
      )
    ).status;
    return s?.metrics?.some((m) => m.key === 'inferenceNumber' && String(m.value) === '42') === true;
  });
  const fl = await get<{ status?: { conditions?: unknown[] } }>(rest, ns, 'FederatedLearningJob', 'fl-edge-2');
  assert.equal(fl.status?.conditions?.length ?? 0, 0, "the other node's job got no report");
});
