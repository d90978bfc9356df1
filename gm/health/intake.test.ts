import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { KubeObject } from '../../common/kube/objects.ts';
import { createLogger } from '../../common/log.ts';
import { viewsConfigMap } from '../../mesh/health/publisher.ts';
import { type HealthView, signView } from '../../mesh/health/view.ts';
import { createIntake } from './intake.ts';

const ZONE = { enabled: true, label: 'fedmesh.io/topology-zone' };
const log = createLogger({ component: 'test', level: 'silent' });

async function setup() {
  const keys = new Map<string, PrivateKey>();
  for (const n of ['a', 'b', 'c']) keys.set(n, await generateKeyPair('Ed25519'));
  const nodes: KubeObject[] = [...keys.keys()].map((name) => ({
    metadata: { name, labels: { [ZONE.label]: 'z' }, annotations: {} },
  }));
  const pinned: [string, string][] = [];
  const intake = createIntake(
    { maxSkewMs: 10_000, zones: ZONE },
    {
      nodes: () => nodes,
      node: (n) => nodes.find((x) => x.metadata.name === n),
      pin: async (node, peerId) => {
        pinned.push([node, peerId]);
      },
      log,
      clock: { now: () => performance.now(), wall: () => Date.now() },
    },
  );
  let seq = 0;
  const view = async (voter: string, verdicts: HealthView['verdicts'] = {}, key = keys.get(voter) as PrivateKey) =>
    (
      await signView(
        {
          v: 1,
          voter,
          peerId: peerIdFromPrivateKey(key).toString(),
          epoch: 1,
          seq: seq++,
          time: Date.now(),
          zone: 'z',
          verdicts,
        },
        key,
      )
    ).bytes;
  const cm = (node: string, own?: Uint8Array, peers: [string, Uint8Array][] = []) =>
    viewsConfigMap(node, 'ns', { own, peers: new Map(peers) }) as unknown as KubeObject;
  return { keys, intake, pinned, view, cm };
}

test('an own view pins its node key; relays of pinned voters are accepted, stale relays dropped', async () => {
  const { intake, pinned, view, cm } = await setup();
  const a1 = await view('a', { b: { state: 'healthy', lastOkAt: null } });
  await intake.ingest(cm('a', a1));
  assert.equal(pinned.length, 1);
  assert.equal(pinned[0]?.[0], 'a');
  const a2 = await view('a', { b: { state: 'unhealthy', lastOkAt: null } });
  // b carries a's newer view before a's own ConfigMap has it, then an older one: only the newer counts.
  await intake.ingest(cm('b', await view('b'), [['a', a2]]));
  await intake.ingest(cm('c', await view('c'), [['a', a1]]));
  const ballot = intake.box.ballots().find((x) => x.view.voter === 'a');
  assert.equal(ballot?.view.verdicts.b?.state, 'unhealthy');
  assert.deepEqual(pinned.map((p) => p[0]).sort(), ['a', 'b', 'c']);
});

test('a relay of a voter with no pin, or signed by another key, changes nothing', async () => {
  const { keys, intake, view, cm } = await setup();
  await intake.ingest(cm('b', await view('b')));
  // "a" has never written its own ConfigMap: no key is pinned for it.
  await intake.ingest(cm('b', await view('b'), [['a', await view('a')]]));
  assert.equal(intake.box.ballots().filter((x) => x.view.voter === 'a').length, 0);
  await intake.ingest(cm('a', await view('a')));
  // b forges a view "by a" with its own key.
  const forged = await view('a', { c: { state: 'unhealthy', lastOkAt: null } }, keys.get('b'));
  await intake.ingest(cm('b', await view('b'), [['a', forged]]));
  const a = intake.box.ballots().find((x) => x.view.voter === 'a');
  assert.deepEqual(a?.view.verdicts, {});
});

test("a ConfigMap whose own view is another node's, or whose name does not match its label, is refused", async () => {
  const { intake, pinned, view, cm } = await setup();
  await intake.ingest(cm('b', await view('a')));
  assert.equal(pinned.length, 0);
  const renamed = cm('a', await view('a'));
  renamed.metadata.name = 'fedmesh-health-b';
  await intake.ingest(renamed);
  assert.equal(pinned.length, 0);
  assert.equal(intake.box.ballots().length, 0);
});
