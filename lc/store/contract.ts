/**
 * The LcStore contract, run against every implementation (store.test.ts). `open` returns a fresh
 * store; `reopen`, when given, opens the same store again (durable implementations only).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LcStore, NewReport } from './types.ts';

export interface StoreFactory {
  open(): LcStore;
  reopen?(): LcStore;
}

const ds = (name: string, node = 'edge-1') => ({
  op: 'upsert' as const,
  kind: 'Dataset' as const,
  namespace: 'ns',
  name,
  object: { kind: 'Dataset', metadata: { name, namespace: 'ns' }, spec: { nodeName: node } },
});
const report = (name: string, n: number, coalesce = true): NewReport => ({
  kind: 'Dataset',
  namespace: 'ns',
  name,
  status: { numberOfSamples: n },
  reportedAt: new Date(1_700_000_000_000 + n).toISOString(),
  coalesce,
});

export function storeContract(impl: string, factory: StoreFactory): void {
  const cases: Array<{ name: string; run(s: LcStore): void }> = [
    {
      name: 'a fresh store has an instance, no position, no objects, an empty outbox',
      run(s) {
        assert.ok(s.instance.length > 0);
        assert.deepEqual(s.position(), { stream: null, seq: 0 });
        assert.deepEqual(s.listObjects(), []);
        assert.deepEqual(s.outbox(10), []);
        assert.equal(s.outboxSize(), 0);
      },
    },
    {
      name: 'apply upserts, replaces and deletes objects and records the position',
      run(s) {
        s.apply([ds('b'), ds('a')], { stream: 'r1/x', seq: 2 });
        assert.deepEqual(
          s.listObjects().map((o) => o.name),
          ['a', 'b'],
          'ordered by key',
        );
        s.apply([ds('a', 'edge-2'), { op: 'delete', kind: 'Dataset', namespace: 'ns', name: 'b' }], {
          stream: 'r1/x',
          seq: 4,
        });
        assert.deepEqual(s.getObject('Dataset', 'ns', 'a')?.object.spec, { nodeName: 'edge-2' });
        assert.equal(s.getObject('Dataset', 'ns', 'b'), undefined);
        assert.deepEqual(s.position(), { stream: 'r1/x', seq: 4 });
        assert.deepEqual(s.listObjects('Model'), []);
      },
    },
    {
      name: 'retain deletes every object whose key is not kept (end of a snapshot)',
      run(s) {
        s.apply([ds('a'), ds('b'), ds('c')], { stream: 's', seq: 3 });
        s.apply([ds('c'), { op: 'retain', keys: new Set(['Dataset/ns/a', 'Dataset/ns/c']) }], { stream: 's', seq: 6 });
        assert.deepEqual(
          s.listObjects().map((o) => o.name),
          ['a', 'c'],
        );
      },
    },
    {
      name: 'a failing apply changes nothing, position included',
      run(s) {
        s.apply([ds('a')], { stream: 's', seq: 1 });
        const bad = { ...ds('z'), object: { n: 1n } as unknown as Record<string, unknown> };
        assert.throws(() => s.apply([ds('b'), bad], { stream: 's', seq: 3 }));
        assert.deepEqual(
          s.listObjects().map((o) => o.name),
          ['a'],
        );
        assert.deepEqual(s.position(), { stream: 's', seq: 1 });
      },
    },
    {
      name: 'reports get increasing seqs and wait in order until removed',
      run(s) {
        const a = s.enqueue(report('a', 1, false));
        const b = s.enqueue(report('b', 2, false));
        assert.ok(b.seq === a.seq + 1);
        assert.deepEqual(
          s.outbox(10).map((e) => e.seq),
          [a.seq, b.seq],
        );
        assert.deepEqual(s.outbox(1), [a]);
        s.remove(a.seq);
        s.remove(999_999);
        assert.deepEqual(s.outbox(10), [b]);
        assert.equal(s.outboxSize(), 1);
        assert.ok(s.enqueue(report('c', 3, false)).seq > b.seq, 'seqs never repeat after a removal');
      },
    },
    {
      name: 'coalescing keeps only the latest report of an object, and never touches non-coalescing ones',
      run(s) {
        s.enqueue(report('a', 1));
        const keep = s.enqueue(report('a', 2, false));
        s.enqueue(report('b', 3));
        const latest = s.enqueue(report('a', 4));
        const seqs = s.outbox(10).map((e) => e.seq);
        assert.equal(seqs.length, 3);
        assert.ok(seqs.includes(keep.seq) && seqs.includes(latest.seq));
        assert.deepEqual(s.outbox(10).at(-1)?.status, { numberOfSamples: 4 });
      },
    },
  ];
  for (const c of cases) {
    test(`${impl} store: ${c.name}`, () => {
      const s = factory.open();
      try {
        c.run(s);
      } finally {
        s.close();
      }
    });
  }
  const { reopen } = factory;
  if (reopen) {
    test(`${impl} store: instance, objects, position and outbox survive a reopen`, () => {
      const s = factory.open();
      s.apply([ds('a')], { stream: 'r/1', seq: 7 });
      const r = s.enqueue(report('a', 5));
      const instance = s.instance;
      s.close();
      const again = reopen();
      try {
        assert.equal(again.instance, instance);
        assert.deepEqual(again.position(), { stream: 'r/1', seq: 7 });
        assert.deepEqual(
          again.listObjects().map((o) => o.name),
          ['a'],
        );
        assert.deepEqual(again.outbox(10), [r]);
        assert.ok(again.enqueue(report('b', 6)).seq > r.seq);
      } finally {
        again.close();
      }
    });
  }
}
