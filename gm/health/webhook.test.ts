import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../common/kube/objects.ts';
import { DECISION_ANNOTATION } from './constants.ts';
import { nodePatch, podReadyPatch } from './webhook.ts';

const node = (outcome: string | undefined, at: number, taints: { key: string; effect: string }[]): KubeObject => ({
  metadata: {
    name: 'n1',
    annotations: outcome ? { [DECISION_ANNOTATION]: JSON.stringify({ outcome, held: false, at }) } : {},
  },
  spec: { taints },
});
const UNREACHABLE_NE = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
const UNREACHABLE_NS = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' };
const NOT_READY_NE = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
const OTHER = { key: 'dedicated', effect: 'NoExecute' };

const cases = [
  {
    name: 'healthy and fresh: NoExecute unreachable/not-ready removed, NoSchedule and others kept',
    n: node('healthy', 1000, [UNREACHABLE_NS, UNREACHABLE_NE, NOT_READY_NE, OTHER]),
    want: [{ op: 'replace', path: '/spec/taints', value: [UNREACHABLE_NS, OTHER] }],
  },
  { name: 'unhealthy: passes', n: node('unhealthy', 1000, [UNREACHABLE_NE]), want: undefined },
  { name: 'unknown: passes', n: node('unknown', 1000, [UNREACHABLE_NE]), want: undefined },
  { name: 'no decision: passes', n: node(undefined, 1000, [UNREACHABLE_NE]), want: undefined },
  { name: 'stale decision: passes', n: node('healthy', 1000 - 60_001, [UNREACHABLE_NE]), want: undefined },
  { name: 'no eviction taint: nothing to do', n: node('healthy', 1000, [UNREACHABLE_NS]), want: undefined },
];
for (const c of cases) {
  test(`node webhook: ${c.name}`, () => assert.deepEqual(nodePatch(c.n, 1000, 60_000), c.want));
}

const pod = (ready: string): KubeObject => ({
  metadata: { name: 'p' },
  status: {
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Ready', status: ready, reason: 'x' },
    ],
  },
});
test('pod webhook: Ready True → False keeps the old condition; other changes pass', () => {
  assert.deepEqual(podReadyPatch(pod('False'), pod('True')), [
    { op: 'replace', path: '/status/conditions/1', value: { type: 'Ready', status: 'True', reason: 'x' } },
  ]);
  assert.equal(podReadyPatch(pod('True'), pod('False')), undefined);
  assert.equal(podReadyPatch(pod('False'), pod('False')), undefined);
  assert.equal(podReadyPatch(pod('False'), null), undefined);
});
