import assert from 'node:assert/strict';
import { test } from 'node:test';
import { targetLabel } from '../../common/sedna/targets.ts';
import { labelPatch } from './targets.ts';

const obj = (labels?: Record<string, string>) => ({ metadata: { name: 'o', namespace: 'ns', labels } });
const long = `${'n'.repeat(70)}`;

const cases: Array<{ name: string; labels?: Record<string, string>; nodes: string[]; want: unknown }> = [
  { name: 'no labels, no targets: nothing', nodes: [], want: undefined },
  {
    name: 'new targets are added',
    nodes: ['edge-1', 'edge-2'],
    want: { 'targets.fedmesh.io/edge-1': 'true', 'targets.fedmesh.io/edge-2': 'true' },
  },
  {
    name: 'a node no longer targeted is removed; other labels are not touched',
    labels: { app: 'x', 'targets.fedmesh.io/edge-1': 'true', 'targets.fedmesh.io/edge-2': 'true' },
    nodes: ['edge-2'],
    want: { 'targets.fedmesh.io/edge-1': null },
  },
  {
    name: 'labels already right: nothing',
    labels: { 'targets.fedmesh.io/edge-1': 'true' },
    nodes: ['edge-1'],
    want: undefined,
  },
  {
    name: 'a wrong value is corrected',
    labels: { 'targets.fedmesh.io/edge-1': 'no' },
    nodes: ['edge-1'],
    want: { 'targets.fedmesh.io/edge-1': 'true' },
  },
  { name: 'a long node name gets its hashed key', nodes: [long], want: { [targetLabel(long)]: 'true' } },
];
for (const c of cases) {
  test(`labelPatch: ${c.name}`, () => assert.deepEqual(labelPatch(obj(c.labels), c.nodes), c.want));
}
