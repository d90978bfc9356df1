import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import { LABEL_RETRY_MS, labelPatch, withTargetLabels } from './targets.ts';

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

test('withTargetLabels: labels first (the reconcile ends there), then the kind’s work; a failed label write does not hold it up', async () => {
  const log = createLogger({ component: 'test', level: 'silent' });
  let labels: Record<string, string> | undefined;
  const calls: string[] = [];
  let fail = false;
  const caches = {
    Dataset: { get: () => ({ metadata: { name: 'd', namespace: 'ns', labels } }) },
  } as never;
  const writer = {
    async patchLabels(_r: unknown, _o: unknown, patch: Record<string, string | null>) {
      calls.push(`patch ${JSON.stringify(patch)}`);
      if (fail) throw new Error('refused');
      labels = { 'targets.fedmesh.io/edge-1': 'true' };
      return {};
    },
  } as never;
  const router = { nodesOf: (key: string) => (key === 'Dataset/ns/d' ? new Set(['edge-1']) : new Set()) } as never;
  const inner = {
    kind: 'Dataset' as const,
    async reconcile(key: string) {
      calls.push(`inner ${key}`);
      return {};
    },
  };
  const r = withTargetLabels(inner, { caches, writer, router, log });
  const ctx = { signal: new AbortController().signal, log };
  assert.deepEqual(await r.reconcile('ns/d', ctx), {});
  assert.deepEqual(
    calls,
    ['patch {"targets.fedmesh.io/edge-1":"true"}'],
    'labels only: the watch event brings the key back',
  );
  await r.reconcile('ns/d', ctx);
  assert.deepEqual(calls.at(-1), 'inner ns/d', 'labels right: the kind’s work');
  labels = undefined;
  fail = true;
  calls.length = 0;
  assert.deepEqual(await r.reconcile('ns/d', ctx), { requeueAfterMs: LABEL_RETRY_MS });
  assert.deepEqual(calls, ['patch {"targets.fedmesh.io/edge-1":"true"}', 'inner ns/d']);
});
