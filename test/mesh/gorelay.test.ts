/**
 * Any standard circuit-v2 relay is enough: a stock go-libp2p v0.51 relay (TCP, noise, yamux, the
 * same PSK, no per-circuit limit; test/mesh/gorelay) is the only public host between two NATed
 * fedmesh nodes. It runs no fedmesh protocol, so names resolve through the records the nodes keep
 * in their Node objects (records/kube-store.ts, a real API server); the circuit and the record
 * exchange over it are standard libp2p.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createKubeRest } from '../../common/kube/rest.ts';
import { startControlPlane } from '../../controlplane/index.ts';
import { RECORD_ANNOTATION } from '../../mesh/records/kube-store.ts';
import { ensureGoRelay } from './gorelay/build.ts';
import { createMeshLab, ECHO_PORT, MESH_PORT, until } from './harness.ts';

const FWD = 17000;

test('a stock go-libp2p relay is the only relay: names resolve through the API, the tunnel works', async (t) => {
  const bin = await ensureGoRelay();
  const m = await createMeshLab({ nodes: ['r1', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const root = await m.lab.attachRoot('pub', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  const rest = await createKubeRest(plane.kubeConfig());
  t.after(() => rest.close());
  for (const name of ['a1', 'b1']) {
    await rest.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });
  }

  const relayLog = join(m.dir, 'gorelay.log');
  const relay = m.host('r1').spawn({
    name: 'gorelay',
    cmd: bin,
    args: ['-listen', `/ip4/0.0.0.0/tcp/${MESH_PORT}`, '-psk', m.pskFile],
    logFile: relayLog,
  });
  t.after(() => relay.stop('SIGTERM', 5000));
  const relayPeer = await until(
    'the go relay to listen',
    () => {
      const line = readFileSync(relayLog, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as { peer: string }).peer : undefined;
    },
    20_000,
  );
  // EdgeMesh-style relayNodes; the stock relay has no signed record, so its peer ID is pinned.
  const cfg = m.config([], {
    relayNodes: [{ nodeName: 'r1', advertiseAddress: [m.addr('r1')], peerId: relayPeer }],
    nodeRecords: { kubeconfig: plane.kubeconfigPath },
  });
  const b1 = await m.start('b1', { config: cfg });
  const a1 = await m.start('a1', { config: cfg, forwards: [`${FWD}=b1:127.0.0.1:${ECHO_PORT}`] });
  await m.echo('b1');
  for (const p of [a1, b1]) {
    await until(
      `${p.name} to reserve on the go relay`,
      async () => ((await p.status()).relays.find((r) => r.name === 'r1')?.reserved ? true : undefined),
      20_000,
    );
  }
  await until(
    'b1 to publish its record in its Node',
    async () => {
      const node = await rest.request<{ metadata: { annotations?: Record<string, string> } }>(
        'GET',
        '/api/v1/nodes/b1',
      );
      return node.metadata.annotations?.[RECORD_ANNOTATION] ? true : undefined;
    },
    20_000,
  );

  const res = await m.transfer('a1', FWD, 4 << 20).done;
  assert.equal(res.identical, true, JSON.stringify(res));
  const opened = a1.logs().find((l) => l.msg === 'tunnel opened');
  assert.equal((opened?.route as { kind?: string; relay?: string } | undefined)?.relay, 'r1', JSON.stringify(opened));
  // b1 learnt a1 over the circuit (the record exchange end to end), not from the relay.
  assert.ok((await b1.status()).peers.some((p) => p.node === 'a1'));
});
