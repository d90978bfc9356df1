/**
 * The LcStore contract, run against every implementation (store.test.ts). `open` returns a fresh
 * store; `reopen`, when given, opens the same store again (durable implementations only).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD_LETTER_STATUS_BYTES } from '../constants.ts';
import type { LcStore, NewReport, OutboxLimits, StoreOptions } from './types.ts';

export interface StoreFactory {
  open(opts?: StoreOptions): LcStore;
  reopen?(): LcStore;
}

const bytesOf = (status: unknown) => Buffer.byteLength(JSON.stringify(status), 'utf8');
const roomy: OutboxLimits = { maxReports: 100, maxBytes: 1 << 20, maxReportsPerObject: 100 };
const job = (name: string, n: number, pad = ''): NewReport => ({
  kind: 'IncrementalLearningJob',
  namespace: 'ns',
  name,
  status: { n, pad },
  reportedAt: new Date(1_700_000_000_000 + n).toISOString(),
  coalesce: false,
});
const refused = (code: string) => ({ name: 'ReportRefusedError', code });

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
    {
      name: 'outboxBytes counts the UTF-8 bytes of every waiting status, through coalescing and removal',
      run(s) {
        const a = s.enqueue(job('a', 1, 'é€'));
        s.enqueue(report('d', 2));
        const d = s.enqueue(report('d', 3));
        assert.equal(s.outboxBytes(), bytesOf(a.status) + bytesOf(d.status));
        s.remove(a.seq);
        assert.equal(s.outboxBytes(), bytesOf(d.status));
        s.remove(d.seq);
        assert.deepEqual([s.outboxSize(), s.outboxBytes()], [0, 0]);
      },
    },
    {
      name: 'a report beyond its object limit is refused (ERR_OBJECT_BACKLOG), nothing stored; other objects still get in',
      run(s) {
        const limits = { ...roomy, maxReportsPerObject: 2 };
        s.enqueue(job('a', 1), limits);
        s.enqueue(job('a', 2), limits);
        assert.throws(() => s.enqueue(job('a', 3), limits), refused('ERR_OBJECT_BACKLOG'));
        assert.deepEqual(
          s.outbox(10).map((e) => e.status.n),
          [1, 2],
        );
        s.enqueue(job('b', 4), limits);
        assert.equal(s.outboxSize(), 3);
      },
    },
    {
      name: 'coalescing reports replace, so they never hit the per-object limit',
      run(s) {
        const limits = { ...roomy, maxReportsPerObject: 1 };
        for (let i = 1; i <= 5; i++) s.enqueue(report('d', i), limits);
        assert.deepEqual(
          s.outbox(10).map((e) => e.status),
          [{ numberOfSamples: 5 }],
        );
      },
    },
    {
      name: 'a full outbox (reports or bytes) refuses with ERR_OUTBOX_FULL and stores nothing; a replacement that fits is admitted',
      run(s) {
        const byCount = { ...roomy, maxReports: 2 };
        s.enqueue(job('a', 1), byCount);
        s.enqueue(report('d', 2), byCount);
        assert.throws(() => s.enqueue(job('b', 3), byCount), refused('ERR_OUTBOX_FULL'));
        s.enqueue(report('d', 4), byCount); // replaces d's report: still two waiting
        assert.equal(s.outboxSize(), 2);
        const before = s.outboxBytes();
        const byBytes = { ...roomy, maxBytes: before + 10 };
        assert.throws(() => s.enqueue(job('c', 5, 'x'.repeat(64)), byBytes), refused('ERR_OUTBOX_FULL'));
        assert.deepEqual([s.outboxSize(), s.outboxBytes()], [2, before]);
        const next = s.enqueue(job('c', 6), { ...byBytes, maxBytes: before + bytesOf(job('c', 6).status) });
        assert.ok(next.seq > 0, 'exactly at the limit fits');
      },
    },
    {
      name: 'deadLetter moves a waiting report aside with its reason; newest first; unknown seqs change nothing',
      run(s) {
        const a = s.enqueue(job('a', 1));
        const b = s.enqueue(job('a', 2));
        const why = { cause: 'nack' as const, code: 'INVALID', reason: 'status.conditions: too many' };
        const d = s.deadLetter(a.seq, why);
        assert.ok(d);
        assert.deepEqual(
          { ...d, deadLetteredAt: undefined },
          {
            seq: a.seq,
            kind: 'IncrementalLearningJob',
            namespace: 'ns',
            name: 'a',
            reportedAt: a.reportedAt,
            bytes: bytesOf(a.status),
            status: JSON.stringify(a.status),
            ...why,
            deadLetteredAt: undefined,
          },
        );
        assert.ok(!Number.isNaN(Date.parse(d.deadLetteredAt)));
        assert.deepEqual(s.outbox(10), [b], 'the next report of the object is now first');
        assert.deepEqual([s.outboxSize(), s.outboxBytes()], [1, bytesOf(b.status)]);
        assert.equal(s.deadLetter(a.seq, why), undefined);
        assert.equal(s.deadLetter(999_999, why), undefined);
        s.deadLetter(b.seq, { cause: 'closed', code: '4400', reason: 'malformed frame' });
        assert.deepEqual(
          s.deadLetters(10).map((x) => [x.seq, x.cause]),
          [
            [b.seq, 'closed'],
            [a.seq, 'nack'],
          ],
        );
        assert.equal(s.deadLetters(1).length, 1);
        assert.deepEqual(s.deadLetters(0), []);
        assert.deepEqual([s.deadLetterCount(), s.outboxSize(), s.outboxBytes()], [2, 0, 0]);
      },
    },
    {
      name: 'a dead letter keeps a big status only as its size',
      run(s) {
        const big = s.enqueue(job('a', 1, 'x'.repeat(DEAD_LETTER_STATUS_BYTES)));
        const d = s.deadLetter(big.seq, { cause: 'closed', code: '1009', reason: 'message too big' });
        assert.deepEqual([d?.status, d?.bytes], [null, bytesOf(big.status)]);
        assert.equal(s.deadLetters(1)[0]?.status, null);
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
  test(`${impl} store: only the newest maxDeadLetters dead letters are kept`, () => {
    const s = factory.open({ maxDeadLetters: 3 });
    try {
      const seqs = Array.from({ length: 5 }, (_, i) => s.enqueue(job('a', i)).seq);
      for (const seq of seqs) s.deadLetter(seq, { cause: 'invalid', code: 'ERR_SCHEMA', reason: 'r' });
      assert.equal(s.deadLetterCount(), 3);
      assert.deepEqual(
        s.deadLetters(10).map((d) => d.seq),
        seqs.slice(2).reverse(),
      );
    } finally {
      s.close();
    }
  });
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
    test(`${impl} store: dead letters and the outbox counters survive a reopen`, () => {
      const s = factory.open();
      const a = s.enqueue(job('a', 1, 'ü'));
      const b = s.enqueue(job('b', 2));
      s.deadLetter(a.seq, { cause: 'invalid', code: 'ERR_SCHEMA', reason: 'bad' });
      const dead = s.deadLetters(10);
      s.close();
      const again = reopen();
      try {
        assert.deepEqual(again.deadLetters(10), dead);
        assert.equal(again.deadLetterCount(), 1);
        assert.deepEqual([again.outboxSize(), again.outboxBytes()], [1, bytesOf(b.status)]);
        const limits = { ...roomy, maxReportsPerObject: 1 };
        assert.throws(() => again.enqueue(job('b', 3), limits), refused('ERR_OBJECT_BACKLOG'));
      } finally {
        again.close();
      }
    });
  }
}
