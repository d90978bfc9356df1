/**
 * The node-local service proxy on real namespaces with the real API server: a client on a1
 * (LAN A) reaches ClusterIP:port of a Service whose endpoint is a real server on b1 (LAN B, behind
 * another NAT) — TCP and UDP, HTTP/1.1 keep-alive, h2c, TLS passthrough and WebSocket, through
 * the mesh tunnel to b1. An endpoint added on a1 itself takes
 * new connections (same node first); removed from the slice, it gets none. nft rules exist while
 * the agent runs and are gone after it stops, also after kill -9 and a restart.
 *
 *   pub   r1 (relay), root (API server)
 *   lana  a1 (proxy agent, client, a server)      lanb  b1 (proxy agent, the server)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from './harness.ts';
import { ask, askProtocols, nftTable, startProxyLab } from './proxy-lab.ts';

test('service proxy: ClusterIP TCP and UDP across LANs through the mesh, same-node endpoint first, a removed endpoint gets no new connection, no rule left after stop or kill -9', async (t) => {
  const p = await startProxyLab(t);
  const { m, ip } = p;
  const a1 = m.host('a1');
  await p.setEndpoints([['b1']]);
  p.server('a1', m.addr('a1'), 'a1');
  p.server('b1', m.addr('b1'), 'b1');
  await p.agent('b1');
  let a1Agent = await p.agent('a1');

  // TCP and UDP to the ClusterIP reach b1's server, across both NATs through the mesh.
  await p.reach(a1, 'b1');
  assert.deepEqual(await ask(a1, 'tcp', ip, 80, 'hello', 3), ['b1:hello0', 'b1:hello1', 'b1:hello2']);
  assert.deepEqual(await ask(a1, 'udp', ip, 53, 'ping', 2), ['b1:ping0', 'b1:ping1'], 'two flows');
  assert.equal(await nftTable(a1), true, 'the table exists while the agent runs');

  // Application protocols are opaque TCP to the proxy: HTTP/1.1 keep-alive (one backend
  // connection for three requests), h2c (two concurrent streams), TLS passthrough (the client
  // verifies the backend's own certificate, issued for the ClusterIP), WebSocket.
  await p.protoServers('b1');
  const proto = await until(
    'the protocol servers to answer',
    async () => {
      const r = await askProtocols(a1, ip, p.caFile);
      return r.error ? undefined : r;
    },
    15_000,
  );
  const kept = (proto.http as string[]).map((x) => x.split(':'));
  assert.deepEqual(
    kept.map((x) => x[1]),
    ['/a', '/b', '/c'],
  );
  assert.equal(new Set(kept.map((x) => x[2])).size, 1, `one backend connection: ${JSON.stringify(proto.http)}`);
  assert.deepEqual(proto.h2, ['h2:/x', 'h2:/y']);
  assert.equal(proto.tls, 'tls:/t');
  assert.equal(proto.ws, 'ws:hi');

  // An endpoint on a1 itself: new connections go there (same node before another LAN).
  await p.setEndpoints([['a1'], ['b1']]);
  await p.reach(a1, 'a1', 15_000);
  assert.deepEqual(await ask(a1, 'tcp', ip, 80, 'n', 5), ['a1:n0', 'a1:n1', 'a1:n2', 'a1:n3', 'a1:n4']);
  assert.deepEqual(await ask(a1, 'udp', ip, 53, 'u'), ['a1:u0'], 'UDP to the local endpoint directly');
  // Removed from the slice: no new connection goes to it.
  await p.setEndpoints([['b1']]);
  await p.reach(a1, 'b1', 15_000);
  assert.deepEqual(await ask(a1, 'tcp', ip, 80, 'm', 5), ['b1:m0', 'b1:m1', 'b1:m2', 'b1:m3', 'b1:m4']);

  // Stop: rules gone.
  await a1Agent.stop('SIGTERM', 5000);
  assert.equal(await nftTable(a1), false, 'no table after a clean stop');
  // kill -9 leaves the table; the next start replaces it and works; its stop removes it.
  a1Agent = await p.agent('a1');
  await p.reach(a1, 'b1');
  await a1Agent.stop('SIGKILL', 5000);
  assert.equal(await nftTable(a1), true, 'kill -9 leaves the table behind');
  a1Agent = await p.agent('a1');
  await p.reach(a1, 'b1');
  const listed = (await a1.exec('nft', ['list', 'table', 'inet', 'fedmesh'])).stdout;
  assert.equal(listed.match(/redirect to/g)?.length, 6, `one rule per ClusterIP:port, none stale:\n${listed}`);
  await a1Agent.stop('SIGTERM', 5000);
  assert.equal(await nftTable(a1), false, 'no table after the restarted agent stops');
});
