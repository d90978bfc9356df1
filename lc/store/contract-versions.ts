/**
 * The LcStore version rules, run against every implementation (store.test.ts): the GM link and the
 * edge API fallback both feed one store, so an object never goes back to an older
 * resourceVersion, the same version is never applied twice, and a list's `retain` removes only
 * the objects of its kind that the list no longer has.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kind } from '../../common/wire/index.ts';
import type { StoreFactory } from './contract.ts';
import type { AppliedOp, LcStore, StoreOp } from './types.ts';
import { MAX_TOMBSTONES } from './version.ts';

const obj = (kind: Kind, name: string, rv: string | undefined, n = 0): StoreOp => ({
  op: 'upsert',
  kind,
  namespace: 'ns',
  name,
  object: { kind, metadata: { name, namespace: 'ns', ...(rv === undefined ? {} : { resourceVersion: rv }) }, n },
});
const del = (kind: Kind, name: string, resourceVersion?: string): StoreOp => ({
  op: 'delete',
  kind,
  namespace: 'ns',
  name,
  ...(resourceVersion === undefined ? {} : { resourceVersion }),
});
const pos = { stream: null, seq: 0 };
const rvOf = (s: LcStore, kind: Kind, name: string) =>
  (s.getObject(kind, 'ns', name)?.object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
const summary = (ops: AppliedOp[]) =>
  ops.map(
    (o) =>
      `${o.op} ${o.kind}/${o.name}${o.op === 'upsert' ? `@${(o.object.metadata as { resourceVersion?: string }).resourceVersion}` : ''}`,
  );

export function versionContract(impl: string, factory: StoreFactory): void {
  const cases: Array<{ name: string; run(s: LcStore): void }> = [
    {
      name: 'an upsert of the held version or an older one is skipped, and not reported as applied',
      run(s) {
        assert.deepEqual(summary(s.apply([obj('Dataset', 'a', '10')], pos)), ['upsert Dataset/a@10']);
        assert.deepEqual(s.apply([obj('Dataset', 'a', '10', 1)], pos), [], 'the same version twice');
        assert.deepEqual(s.apply([obj('Dataset', 'a', '9', 2)], pos), [], 'an older version');
        assert.equal(s.getObject('Dataset', 'ns', 'a')?.object.n, 0);
        assert.deepEqual(summary(s.apply([obj('Dataset', 'a', '11', 3)], pos)), ['upsert Dataset/a@11']);
        assert.equal(rvOf(s, 'Dataset', 'a'), '11');
      },
    },
    {
      name: 'versions compare as integers, not as text (9 < 10)',
      run(s) {
        s.apply([obj('Model', 'm', '10')], pos);
        assert.deepEqual(s.apply([obj('Model', 'm', '9')], pos), []);
        assert.deepEqual(summary(s.apply([obj('Model', 'm', '100')], pos)), ['upsert Model/m@100']);
        s.apply([obj('Model', 'big', '18446744073709551616')], pos);
        assert.deepEqual(s.apply([obj('Model', 'big', '18446744073709551615')], pos), [], 'beyond 2^64');
      },
    },
    {
      name: 'objects without a version, or with non-decimal versions, are applied unless equal',
      run(s) {
        assert.equal(s.apply([obj('Dataset', 'a', undefined)], pos).length, 1);
        assert.equal(s.apply([obj('Dataset', 'a', undefined, 1)], pos).length, 1);
        assert.equal(s.apply([obj('Dataset', 'a', 'x7')], pos).length, 1);
        assert.equal(s.apply([obj('Dataset', 'a', 'x7')], pos).length, 0);
        assert.equal(s.apply([obj('Dataset', 'a', '3')], pos).length, 1);
      },
    },
    {
      name: 'within one batch the later of two versions wins, whatever their order',
      run(s) {
        assert.deepEqual(summary(s.apply([obj('Dataset', 'a', '5'), obj('Dataset', 'a', '4')], pos)), [
          'upsert Dataset/a@5',
        ]);
        assert.equal(rvOf(s, 'Dataset', 'a'), '5');
      },
    },
    {
      name: 'a delete of an object not held changes nothing; a versioned delete older than the held object is skipped',
      run(s) {
        assert.deepEqual(s.apply([del('Dataset', 'none')], pos), []);
        s.apply([obj('Dataset', 'a', '20')], pos);
        assert.deepEqual(s.apply([del('Dataset', 'a', '15')], pos), [], 'deleted before it was created again');
        assert.deepEqual(summary(s.apply([del('Dataset', 'a', '21')], pos)), ['delete Dataset/a']);
        assert.equal(s.getObject('Dataset', 'ns', 'a'), undefined);
      },
    },
    {
      name: 'after a delete the same version may come back (routed to this node again)',
      run(s) {
        s.apply([obj('Model', 'm', '7')], pos);
        s.apply([del('Model', 'm')], pos);
        assert.deepEqual(summary(s.apply([obj('Model', 'm', '7')], pos)), ['upsert Model/m@7']);
      },
    },
    {
      name: 'a deleted object does not come back at an older version than it was deleted at (a lagging source)',
      run(s) {
        s.apply([obj('Dataset', 'a', '20')], pos);
        s.apply([del('Dataset', 'a', '25')], pos); // a watch's DELETED, at the deletion's version
        assert.deepEqual(s.apply([obj('Dataset', 'a', '20')], pos), [], 'the version it had');
        assert.deepEqual(s.apply([obj('Dataset', 'a', '24')], pos), [], 'older than the delete');
        assert.deepEqual(summary(s.apply([obj('Dataset', 'a', '30')], pos)), ['upsert Dataset/a@30'], 'created again');
        // A delete of an object never held still remembers its version.
        s.apply([del('Model', 'm', '40')], pos);
        assert.deepEqual(s.apply([obj('Model', 'm', '39')], pos), []);
        // Retain remembers the version each object had.
        s.apply([obj('Model', 'r', '50'), { op: 'retain', kind: 'Model', keys: new Set() }], pos);
        assert.deepEqual(s.apply([obj('Model', 'r', '49')], pos), []);
        assert.deepEqual(summary(s.apply([obj('Model', 'r', '50')], pos)), ['upsert Model/r@50'], 'routed here again');
      },
    },
    {
      name: `only the newest ${MAX_TOMBSTONES} deletes are remembered`,
      run(s) {
        const deletes = Array.from({ length: MAX_TOMBSTONES + 1 }, (_, i) => del('Dataset', `d${i}`, '100'));
        s.apply(deletes, pos);
        assert.equal(s.apply([obj('Dataset', 'd0', '1')], pos).length, 1, 'the oldest was forgotten');
        assert.equal(s.apply([obj('Dataset', `d${MAX_TOMBSTONES}`, '1')], pos).length, 0, 'the newest is kept');
      },
    },
    {
      name: 'retain of one kind deletes only that kind, and reports each delete',
      run(s) {
        s.apply([obj('Dataset', 'a', '1'), obj('Dataset', 'b', '2'), obj('Model', 'm', '3')], pos);
        const done = s.apply([{ op: 'retain', kind: 'Dataset', keys: new Set(['Dataset/ns/a']) }], pos);
        assert.deepEqual(summary(done), ['delete Dataset/b']);
        assert.deepEqual(
          s.listObjects().map((o) => `${o.kind}/${o.name}`),
          ['Dataset/a', 'Model/m'],
        );
        assert.deepEqual(summary(s.apply([{ op: 'retain', keys: new Set() }], pos)), [
          'delete Dataset/a',
          'delete Model/m',
        ]);
      },
    },
  ];
  for (const c of cases) {
    test(`${impl} store versions: ${c.name}`, () => {
      const s = factory.open();
      try {
        c.run(s);
      } finally {
        s.close();
      }
    });
  }
}
