import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createZoneIndex, type LabelledNode, zoneIdOf, zoneOf } from './zones.ts';

const L = 'fedmesh.io/topology-zone';
const nodes: LabelledNode[] = [
  { name: 'a1', labels: { [L]: 'plant' } },
  { name: 'a2', labels: { [L]: 'plant', other: 'x' } },
  { name: 'w1', labels: { [L]: 'warehouse' } },
  { name: 'n1', labels: { other: 'plant' } },
  { name: 'e1', labels: { [L]: '' } },
  { name: 'n2' },
];

const cases: Array<{ name: string; self: string; enabled: boolean; label?: string; id: string; members: string[] }> = [
  { name: 'zones on: same label value', self: 'a1', enabled: true, id: 'plant', members: ['a1', 'a2'] },
  { name: 'zones on: a zone of one value', self: 'w1', enabled: true, id: 'warehouse', members: ['w1'] },
  { name: 'zones on, no label: only itself', self: 'n1', enabled: true, id: '', members: ['n1'] },
  { name: 'zones on, no labels at all: only itself', self: 'n2', enabled: true, id: '', members: ['n2'] },
  { name: 'zones on, empty value: only itself', self: 'e1', enabled: true, id: '', members: ['e1'] },
  { name: 'zones on, unknown node: only itself', self: 'new', enabled: true, id: '', members: ['new'] },
  {
    name: 'zones off: everyone, labels ignored',
    self: 'a1',
    enabled: false,
    id: '*',
    members: ['a1', 'a2', 'e1', 'n1', 'n2', 'w1'],
  },
  {
    name: 'zones off, unknown node: everyone and itself',
    self: 'new',
    enabled: false,
    id: '*',
    members: ['a1', 'a2', 'e1', 'n1', 'n2', 'new', 'w1'],
  },
  { name: 'another label key', self: 'n1', enabled: true, label: 'other', id: 'plant', members: ['n1'] },
];

for (const c of cases) {
  test(`zones: ${c.name}`, () => {
    const cfg = { enabled: c.enabled, label: c.label ?? L };
    const z = zoneOf(c.self, nodes, cfg);
    assert.equal(z.id, c.id);
    assert.deepEqual(z.members, c.members);
    assert.equal(z.has(c.self), true);
    assert.equal(
      zoneIdOf(
        nodes.find((n) => n.name === c.self),
        cfg,
      ),
      c.id,
    );
  });
}

test('zones: one index answers for every node; members of one zone share it', () => {
  const idx = createZoneIndex(nodes, { enabled: true, label: L });
  assert.equal(idx.zoneOf('a1'), idx.zoneOf('a2'));
  assert.equal(idx.zoneOf('a1').has('w1'), false);
  assert.deepEqual(idx.zoneOf('n1').members, ['n1']);
  assert.equal(idx.zoneOf('n1').has('n2'), false);
});
