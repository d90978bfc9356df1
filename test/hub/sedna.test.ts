import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import { adminRest, create, dataset, get, HUB_ONLY, mergePatch, objectsUrl, until } from './helpers.ts';

const env = useEnvtest();

/** A client shaped like Sedna's LC (pkg/localcontroller/gmclient): plain WebSocket, Node-Name header, no subprotocol. */
async function stockSednaLc(url: string, node: string) {
  const ws = new WebSocket(url, { headers: { 'Node-Name': node } });
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(String(d)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames };
}

const envelope = (ns: string, kind: string, name: string, op: string, content: string | null) =>
  `{"header":{"namespace":"${ns}","resourceKind":"${kind}","resourceName":"${name}","operation":"${op}"},` +
  `"content":${content === null ? 'null' : `"${content}"`}}\n`;

test('golden Sedna v1 frames end to end: hello, insert on connect and on update, status up, delete', async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-1', 'edge-1'));
  await create(rest, ns, 'Dataset', dataset('ds-2', 'edge-2'));
  const gm = await startReplica(env.plane, {
    id: 'a',
    namespace: ns,
    readyz: 'replica',
    args: [...HUB_ONLY, '--allow-unauthenticated-sedna-lc'],
  });
  t.after(() => gm.proc.stop('SIGKILL'));
  await until('replica ready', 30_000, async () => (await gm.readyz()) === 200);

  // Sedna's LC dials ws://$GM_ADDRESS/ (any path is served) and first sends the bare header.
  const lc = await stockSednaLc(`ws://127.0.0.1:${gm.wsPort}/any/path`, 'edge-1');
  t.after(() => lc.ws.terminate());
  lc.ws.send('{"namespace":"","resourceKind":"","resourceName":"","operation":""}\n');

  // Downstream insert: the whole CR, base64 of its JSON, lowercase kind, Go's key order and trailing newline.
  await until('the insert of ds-1', 10_000, () => lc.frames.length >= 1);
  const ds1 = await get(rest, ns, 'Dataset', 'ds-1');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8').toString('base64');
  assert.equal(lc.frames[0], envelope(ns, 'dataset', 'ds-1', 'insert', b64(ds1)));
  assert.equal(lc.frames.length, 1, 'ds-2 belongs to edge-2');

  // Upstream status exactly as a stock LC writes it (kind capitalised as its dataset manager does).
  lc.ws.send(envelope(ns, 'Dataset', 'ds-1', 'status', 'eyJudW1iZXJPZlNhbXBsZXMiOjQyfQ=='));
  await until('the status in the API', 10_000, async () => {
    const o = await get<{ status?: { numberOfSamples?: number } }>(rest, ns, 'Dataset', 'ds-1');
    return o.status?.numberOfSamples === 42;
  });

  // An update goes down as `insert` (stock LCs drop `update`).
  await mergePatch(rest, ns, 'Dataset', 'ds-1', { spec: { url: '/data/v2' } });
  await until('the insert of the new version', 10_000, async () => {
    const cur = await get(rest, ns, 'Dataset', 'ds-1');
    return lc.frames.includes(envelope(ns, 'dataset', 'ds-1', 'insert', b64(cur)));
  });

  // Delete: header only, content null.
  await rest.request('DELETE', objectsUrl(ns, 'Dataset', 'ds-1'));
  await until('the delete', 10_000, () => lc.frames.at(-1) === envelope(ns, 'dataset', 'ds-1', 'delete', null));
  assert.equal(lc.ws.readyState, WebSocket.OPEN);
});
