/**
 * Socket-level fuzzing of a real GM process: raw bytes over TCP, not only the decoders. Every
 * connection first takes one of the paths an LC can take (accepted in either dialect, or refused for
 * each reason the hub has), then sends random WebSocket frames and junk, split at random points.
 * Afterwards both replicas must still run, be ready and serve a real LC.
 *
 * A fixed seed runs in `npm test`; `FEDMESH_FUZZ_SEED` replays another, `FEDMESH_FUZZ_ITERATIONS`
 * sets the length (the chaos suite's long mode).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { installCrds } from '../../crds/install.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from '../gm/replicas.ts';
import {
  adminRest,
  create,
  dataset,
  HUB_ONLY,
  nodeToken,
  saToken,
  startTestLc,
  until,
  upgradeRequest,
} from './helpers.ts';

const env = useEnvtest();
const SEED = Number(process.env.FEDMESH_FUZZ_SEED ?? 20261207);
const ITERATIONS = Number(process.env.FEDMESH_FUZZ_ITERATIONS ?? 400);
const CONCURRENCY = 16;

/** mulberry32: a small seeded PRNG, so a failing run replays exactly from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}
type Rng = ReturnType<typeof prng>;

/** Payloads that reach deep into the decoders, or nowhere. */
function payload(r: Rng): Buffer {
  const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const texts = [
    '{"type":"hello","node":"edge-f","lcVersion":"x","instance":"i","stream":null,"lastDownstreamSeq":0,"credit":5}',
    '{"type":"report","id":{"instance":"i","seq":1},"kind":"Dataset","namespace":"default","name":"d","status":{},"reportedAt":"x"}',
    '{"type":"credit","frames":1e309}',
    '{"type":"ack","seq":-1}',
    '{"type":"ping","nonce":1,"deadlineMs":1}',
    `{"header":{"namespace":"default","resourceKind":"dataset","resourceName":"d","operation":"status"},"content":"${b64(deep(150))}"}`,
    `{"header":{"namespace":"default","resourceKind":"Dataset","resourceName":"d","operation":"status"},"content":"${b64('{"numberOfSamples":1}')}"}`,
    '{"namespace":"","resourceKind":"","resourceName":"","operation":""}',
    deep(r.int(300)),
    '[[[[[[[[',
    '\uFFFF\uD800',
    '',
  ];
  return r.next() < 0.6 ? Buffer.from(r.pick(texts)) : r.bytes(r.int(200));
}

/** One client frame with random bits: opcode, flags, mask, and a length that may lie. */
function frame(r: Rng): Buffer {
  const body = payload(r);
  const opcode = r.next() < 0.6 ? r.pick([0x1, 0x2, 0x8, 0x9, 0xa, 0x0]) : r.int(16);
  const fin = r.next() < 0.85 ? 0x80 : 0;
  const rsv = r.next() < 0.1 ? r.int(8) << 4 : 0;
  const masked = r.next() < 0.9;
  const lie = r.next() < 0.15;
  let len = body.length;
  if (lie) len = r.pick([126, 65535, 2 ** 20 + 1, 2 ** 32, 2 ** 52]);
  const head: number[] = [fin | rsv | opcode];
  const m = masked ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const big = BigInt(len);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(8 * i)) & 0xffn));
  }
  const mask = masked ? r.bytes(4) : Buffer.alloc(0);
  const data = Buffer.from(body);
  if (masked) for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([Buffer.from(head), mask, data]);
}

interface Path {
  name: string;
  port: () => number;
  request: (r: Rng) => string;
}

/** Sends one fuzz case and hangs up after a short while; resolves when the socket is gone. */
async function fuzzOne(r: Rng, path: Path): Promise<void> {
  const sock = connect(path.port(), '127.0.0.1');
  sock.on('error', () => {});
  const closed = new Promise<void>((res) => sock.once('close', () => res()));
  await Promise.race([once(sock, 'connect'), closed]);
  const request = r.next() < 0.9 ? Buffer.from(path.request(r)) : r.bytes(r.int(400));
  const frames = Array.from({ length: 1 + r.int(5) }, () => frame(r));
  let bytes = Buffer.concat([request, ...frames]);
  if (r.next() < 0.2) bytes = bytes.subarray(0, r.int(bytes.length + 1)); // cut anywhere
  // Split at random points, written across turns, so the parser sees every boundary.
  let at = 0;
  while (at < bytes.length && !sock.destroyed) {
    const n = 1 + r.int(Math.max(1, bytes.length - at));
    sock.write(bytes.subarray(at, at + n));
    at += n;
    if (r.next() < 0.3) await new Promise((res) => setTimeout(res, r.int(20)));
  }
  const timer = setTimeout(() => sock.destroy(), 50 + r.int(300));
  await closed;
  clearTimeout(timer);
}

test(`socket fuzz (seed ${SEED}, ${ITERATIONS} connections): no byte sequence ends a GM replica`, async (t) => {
  const ns = await env.namespace(t);
  const rest = await adminRest(env.plane);
  t.after(() => rest.close());
  await installCrds(env.kubeConfig());
  await create(rest, ns, 'Dataset', dataset('ds-ok', 'edge-ok'));
  await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'intruder' } } });
  const [open, strict] = await Promise.all([
    startReplica(env.plane, {
      id: 'open',
      namespace: ns,
      readyz: 'replica',
      args: [...HUB_ONLY, '--allow-unauthenticated-sedna-lc', '--max-connections-per-source', '100000'],
    }),
    startReplica(env.plane, {
      id: 'strict',
      namespace: ns,
      readyz: 'replica',
      args: [...HUB_ONLY, '--max-connections-per-source', '100000'],
    }),
  ]);
  t.after(() => Promise.all([open.proc.stop('SIGKILL'), strict.proc.stop('SIGKILL')]));
  await until('replicas ready', 30_000, async () => (await open.readyz()) === 200 && (await strict.readyz()) === 200);
  const tokenA = await nodeToken(rest, ns, 'edge-f');
  const intruder = await saToken(rest, ns, 'intruder');
  // A proven holder of edge-held, so claims on it are refused (node-held).
  const holder = startTestLc('edge-held', [`ws://127.0.0.1:${open.wsPort}/`], await nodeToken(rest, ns, 'edge-held'));
  t.after(() => holder.stop());
  await until('holder welcomed', 10_000, () => holder.welcomes.length > 0);

  const fm = { 'Sec-WebSocket-Protocol': 'fedmesh.v1' };
  const bearer = (tok: string) => ({ Authorization: `Bearer ${tok}` });
  const paths: Path[] = [
    { name: 'sedna accepted', port: () => open.wsPort, request: () => upgradeRequest({ 'Node-Name': 'edge-f' }) },
    {
      name: 'fedmesh accepted',
      port: () => strict.wsPort,
      request: () => upgradeRequest({ ...fm, ...bearer(tokenA) }),
    },
    { name: 'no-credentials (sedna)', port: () => strict.wsPort, request: () => upgradeRequest({ 'Node-Name': 'x' }) },
    { name: 'no-credentials (fedmesh)', port: () => strict.wsPort, request: () => upgradeRequest(fm) },
    { name: 'bad-node-header', port: () => open.wsPort, request: () => upgradeRequest({ 'Node-Name': 'NOT_A_NAME' }) },
    {
      name: 'invalid-credentials',
      port: () => strict.wsPort,
      request: () => upgradeRequest({ ...fm, ...bearer('eyJhbGciOiJub25lIn0.e30.') }),
    },
    { name: 'not-an-lc', port: () => strict.wsPort, request: () => upgradeRequest({ ...fm, ...bearer(intruder) }) },
    {
      name: 'node-mismatch',
      port: () => strict.wsPort,
      request: () => upgradeRequest({ 'Node-Name': 'edge-other', ...bearer(tokenA) }),
    },
    { name: 'node-held', port: () => open.wsPort, request: () => upgradeRequest({ 'Node-Name': 'edge-held' }) },
    {
      name: 'bad websocket version',
      port: () => open.wsPort,
      request: (r) => upgradeRequest({ 'Node-Name': 'edge-f' }, r.pick(['8', '', 'x'])),
    },
    { name: 'plain http', port: () => strict.wsPort, request: () => 'GET / HTTP/1.1\r\nHost: gm\r\n\r\n' },
    { name: 'gm http', port: () => strict.port, request: () => 'GET /readyz HTTP/1.1\r\nHost: gm\r\n\r\n' },
  ];

  const r = prng(SEED);
  let next = 0;
  const counts = new Map<string, number>();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ITERATIONS) {
        next++;
        const path = r.pick(paths);
        counts.set(path.name, (counts.get(path.name) ?? 0) + 1);
        await fuzzOne(r, path);
        assert.ok(open.proc.running() && strict.proc.running(), `a replica died (seed ${SEED}, case ${next})`);
      }
    }),
  );
  assert.equal(counts.size, paths.length, 'every path was fuzzed');
  assert.ok(open.proc.running() && strict.proc.running(), `a replica died (seed ${SEED})`);
  await until(
    'both ready after the fuzz',
    10_000,
    async () => (await open.readyz()) === 200 && (await strict.readyz()) === 200,
  );
  assert.deepEqual(holder.closes, [], 'the proven LC was never disturbed');
  const lc = startTestLc('edge-ok', [`ws://127.0.0.1:${strict.wsPort}/`], await nodeToken(rest, ns, 'edge-ok'));
  t.after(() => lc.stop());
  await until('a real LC is still served', 10_000, () => lc.keys().includes('Dataset/ds-ok'));
  const refusals = await (await fetch(`http://127.0.0.1:${strict.port}/metrics`)).text();
  for (const reason of ['no-credentials', 'invalid-credentials', 'not-an-lc', 'node-mismatch']) {
    assert.match(refusals, new RegExp(`fedmesh_hub_connection_refusals_total\\{reason="${reason}"\\} [1-9]`), reason);
  }
});
