import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import {
  adminRest,
  create,
  daemonSetToken,
  dataset,
  get,
  HUB_ONLY,
  nodeToken,
  rawFedmesh,
  saToken,
  startTestLc,
  until,
} from './helpers.ts';

const env = useEnvtest();

interface Outcome {
  code: number;
  reason: string;
}

/** Connects, sends `frames`, and returns how the hub closed the connection. */
async function attempt(
  url: string,
  opts: { protocol?: string; headers?: Record<string, string>; frames?: Array<string | Buffer> },
): Promise<Outcome> {
  const ws = new WebSocket(url, opts.protocol ? [opts.protocol] : [], { headers: opts.headers ?? {} });
  ws.on('error', () => {});
  const closed = new Promise<Outcome>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.once('open', () => {
    for (const f of opts.frames ?? []) ws.send(f);
  });
  const timer = setTimeout(() => ws.terminate(), 10_000);
  const out = await closed;
  clearTimeout(timer);
  return out;
}

const sedna = (ns: string, kind: string, name: string, op: string, content: string | null) =>
  `{"header":{"namespace":"${ns}","resourceKind":"${kind}","resourceName":"${name}","operation":"${op}"},"content":${content === null ? 'null' : `"${content}"`}}`;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
const hello = (node: string) =>
  JSON.stringify({
    type: 'hello',
    node,
    lcVersion: 't',
    instance: 'i',
    stream: null,
    lastDownstreamSeq: 0,
    credit: 10,
  });

test('bad input is refused with a clear close code, writes nothing, and the replica keeps serving everyone else', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  for (const n of ['edge-ok', 'edge-s', 'edge-v', 'edge-bad']) await create(rest, ns, 'Dataset', dataset(`ds-${n}`, n));
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
  const url = `ws://127.0.0.1:${open.wsPort}/`;

  // Two healthy LCs stay connected through everything below.
  const good = startTestLc('edge-ok', [url], await nodeToken(rest, ns, 'edge-ok'));
  t.after(() => good.stop());
  const stock = new WebSocket(url, { headers: { 'Node-Name': 'edge-s' } });
  const stockFrames: string[] = [];
  stock.on('message', (d) => stockFrames.push(String(d)));
  t.after(() => stock.terminate());
  await until('healthy LCs served', 10_000, () => good.keys().length === 1 && stockFrames.length === 1);

  const badToken = await nodeToken(rest, ns, 'edge-bad');
  await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'intruder' } } });
  const notAnLc = await saToken(rest, ns, 'intruder');
  const otherAudience = (
    await rest.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/lc-edge-bad/token`,
      { body: { spec: { audiences: ['some-other-service'], expirationSeconds: 600 } } },
    )
  ).status.token;
  const victim = b64({ numberOfSamples: 666 });
  const fm = 'fedmesh.v1';
  const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });
  const tenMiB = Buffer.alloc(10 * 1024 * 1024, 0x20);
  const cases: Array<{
    name: string;
    url?: string;
    opts: Parameters<typeof attempt>[1];
    code: number;
    reason?: RegExp;
  }> = [
    {
      name: 'sedna: malformed JSON',
      opts: { headers: { 'Node-Name': 'edge-bad' }, frames: ['{"header": nope'] },
      code: 4400,
      reason: /ERR_MALFORMED_JSON/,
    },
    {
      name: 'sedna: bad base64',
      opts: {
        headers: { 'Node-Name': 'edge-bad' },
        frames: [sedna(ns, 'dataset', 'ds-edge-bad', 'status', '!!notbase64')],
      },
      code: 4400,
      reason: /ERR_BAD_BASE64/,
    },
    {
      name: 'sedna: unknown kind',
      opts: { headers: { 'Node-Name': 'edge-bad' }, frames: [sedna(ns, 'pod', 'ds-edge-bad', 'status', victim)] },
      code: 4400,
      reason: /ERR_UNKNOWN_KIND/,
    },
    {
      name: 'sedna: unknown operation',
      opts: { headers: { 'Node-Name': 'edge-bad' }, frames: [sedna(ns, 'dataset', 'ds-edge-bad', 'explode', victim)] },
      code: 4400,
      reason: /ERR_UNKNOWN_OPERATION/,
    },
    {
      name: 'sedna: downstream operation sent upstream',
      opts: { headers: { 'Node-Name': 'edge-bad' }, frames: [sedna(ns, 'dataset', 'ds-edge-v', 'insert', victim)] },
      code: 4400,
      reason: /ERR_DIRECTION/,
    },
    { name: 'sedna: a 10 MiB frame', opts: { headers: { 'Node-Name': 'edge-bad' }, frames: [tenMiB] }, code: 1009 },
    { name: 'sedna: missing Node-Name without credentials', opts: { frames: [] }, code: 4400, reason: /Node-Name/ },
    {
      name: 'sedna: no credentials where they are required',
      url: `ws://127.0.0.1:${strict.wsPort}/`,
      opts: { headers: { 'Node-Name': 'edge-bad' } },
      code: 4401,
    },
    {
      name: 'sedna: credential of another node than Node-Name',
      opts: { headers: { 'Node-Name': 'edge-v', ...auth(badToken) } },
      code: 4403,
    },
    { name: 'fedmesh: missing credential', opts: { protocol: fm, frames: [hello('edge-bad')] }, code: 4401 },
    {
      name: 'fedmesh: garbage token',
      opts: { protocol: fm, headers: auth('not-a-token'), frames: [hello('edge-bad')] },
      code: 4401,
    },
    {
      name: 'fedmesh: token for another audience',
      opts: { protocol: fm, headers: auth(otherAudience), frames: [hello('edge-bad')] },
      code: 4401,
    },
    {
      name: 'fedmesh: a ServiceAccount that is no LC',
      opts: { protocol: fm, headers: auth(notAnLc), frames: [hello('edge-bad')] },
      code: 4403,
    },
    {
      name: 'fedmesh: hello for another node',
      opts: { protocol: fm, headers: auth(badToken), frames: [hello('edge-v')] },
      code: 4403,
    },
    {
      name: 'fedmesh: malformed JSON',
      opts: { protocol: fm, headers: auth(badToken), frames: ['{'] },
      code: 4400,
      reason: /ERR_MALFORMED_JSON/,
    },
    {
      name: 'fedmesh: unknown frame type',
      opts: { protocol: fm, headers: auth(badToken), frames: [hello('edge-bad'), '{"type":"explode"}'] },
      code: 4400,
      reason: /ERR_UNKNOWN_FRAME_TYPE/,
    },
    {
      name: 'fedmesh: a report before hello',
      opts: { protocol: fm, headers: auth(badToken), frames: ['{"type":"credit","frames":1}'] },
      code: 4400,
    },
    {
      name: 'fedmesh: a 10 MiB frame',
      opts: { protocol: fm, headers: auth(badToken), frames: [hello('edge-bad'), tenMiB] },
      code: 1009,
    },
  ];
  for (const c of cases) {
    const out = await attempt(c.url ?? url, c.opts);
    assert.equal(out.code, c.code, `${c.name}: closed with ${out.code} ${out.reason}`);
    if (c.reason) assert.match(out.reason, c.reason, c.name);
  }

  // A report for another node's object: fedmesh gets a FORBIDDEN nack and stays connected; Sedna has no
  // nack, so the report is dropped (logged, counted) and the LC stays connected.
  const raw = await rawFedmesh(url, 'edge-bad', badToken);
  t.after(() => raw.ws.terminate());
  await until('welcome', 5000, () => raw.frames.some((f) => f.type === 'welcome'));
  const id = { instance: 'raw', seq: 1 };
  raw.send({
    type: 'report',
    id,
    kind: 'Dataset',
    namespace: ns,
    name: 'ds-edge-v',
    status: { numberOfSamples: 666 },
    reportedAt: new Date().toISOString(),
  });
  await until('nack', 5000, () => raw.frames.some((f) => f.type === 'nack'));
  const nack = raw.frames.find((f) => f.type === 'nack');
  assert.deepEqual(
    { code: nack?.code, retryable: nack?.retryable, reportId: nack?.reportId },
    { code: 'FORBIDDEN', retryable: false, reportId: id },
  );
  stock.send(sedna(ns, 'dataset', 'ds-edge-v', 'status', victim));

  // The healthy LCs were never disturbed and are still served.
  good.lc.report({ kind: 'Dataset', namespace: ns, name: 'ds-edge-ok', status: { numberOfSamples: 7 } });
  stock.send(sedna(ns, 'Dataset', 'ds-edge-s', 'status', b64({ numberOfSamples: 8 })));
  await until('healthy reports applied', 10_000, async () => {
    const [a, b] = await Promise.all([get(rest, ns, 'Dataset', 'ds-edge-ok'), get(rest, ns, 'Dataset', 'ds-edge-s')]);
    return a.status?.numberOfSamples === 7 && b.status?.numberOfSamples === 8;
  });
  assert.deepEqual(good.closes, [], 'the healthy fedmesh LC kept its connection');
  assert.equal(stock.readyState, WebSocket.OPEN, 'the healthy Sedna LC kept its connection');
  assert.equal(raw.ws.readyState, WebSocket.OPEN, 'a forbidden report does not cost the connection');
  for (const n of ['edge-v', 'edge-bad']) {
    assert.equal((await get(rest, ns, 'Dataset', `ds-${n}`)).status, undefined, `nothing written to ds-${n}`);
  }
  // A token that verifies locally (valid signature) but whose ServiceAccount is gone: the TokenReview
  // that confirms every session refuses it, and the session closes before any report is written.
  const gone = await nodeToken(rest, ns, 'edge-v');
  await rest.request('DELETE', `/api/v1/namespaces/${ns}/serviceaccounts/lc-edge-v`);
  const revoked = await rawFedmesh(url, 'edge-v', gone);
  revoked.send({
    type: 'report',
    id: { instance: 'raw', seq: 1 },
    kind: 'Dataset',
    namespace: ns,
    name: 'ds-edge-v',
    status: { numberOfSamples: 666 },
    reportedAt: new Date().toISOString(),
  });
  assert.equal((await revoked.closed).code, 4401, 'revoked credentials');
  assert.ok(!revoked.frames.some((f) => f.type === 'ack'), 'no report of a revoked identity is acked');

  const metrics = await (await fetch(`http://127.0.0.1:${open.port}/metrics`)).text();
  assert.match(metrics, /fedmesh_hub_reports_total\{dialect="sedna",result="forbidden"\} 1/);
  assert.match(metrics, /fedmesh_hub_connection_refusals_total\{reason="invalid-credentials"\} 2/);
});

test('a pod-bound token of the LC DaemonSet authenticates as the node its pod runs on', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-1', 'edge-7'));
  const gm = await startReplica(env.plane, { id: 'a', namespace: ns, readyz: 'replica', args: HUB_ONLY });
  t.after(() => gm.proc.stop('SIGKILL'));
  await until('replica ready', 30_000, async () => (await gm.readyz()) === 200);
  const token = await daemonSetToken(rest, ns, 'edge-7');
  const lc = startTestLc('edge-7', [`ws://127.0.0.1:${gm.wsPort}/`], token);
  t.after(() => lc.stop());
  await until('served as edge-7', 10_000, () => lc.keys().includes('Dataset/ds-1'));
  // The same token cannot claim another node.
  const other = await rawFedmesh(`ws://127.0.0.1:${gm.wsPort}/`, 'edge-8', token);
  assert.equal((await other.closed).code, 4403);
});
