import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../common/kube/objects.ts';
import { markedNotReady } from './pods.ts';

const pod = (conds: Record<string, string>, deleting = false): KubeObject =>
  ({
    metadata: { name: 'p', namespace: 'n', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    status: { conditions: Object.entries(conds).map(([type, status]) => ({ type, status })) },
  }) as KubeObject;

const cases = [
  {
    name: 'marked not ready by the controller, containers ready: restored',
    p: pod({ Ready: 'False', ContainersReady: 'True' }),
    want: true,
  },
  {
    name: 'containers not ready (the kubelet said so): left alone',
    p: pod({ Ready: 'False', ContainersReady: 'False' }),
    want: false,
  },
  { name: 'no ContainersReady condition: left alone', p: pod({ Ready: 'False' }), want: false },
  { name: 'ready: nothing to do', p: pod({ Ready: 'True', ContainersReady: 'True' }), want: false },
  { name: 'being deleted: left alone', p: pod({ Ready: 'False', ContainersReady: 'True' }, true), want: false },
];
for (const c of cases) {
  test(`markedNotReady: ${c.name}`, () => assert.equal(markedNotReady(c.p), c.want));
}
