import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFeed, type FeedOp } from './feed.ts';
import { createWorld, ds } from './testing.ts';

const drain = (f: ReturnType<typeof createFeed>) => {
  const out: string[] = [];
  for (let op: FeedOp | undefined = f.next(); op; op = f.next()) {
    out.push(
      op.op === 'upsert' || op.op === 'delete'
        ? `${op.op} ${op.key}`
        : op.op === 'sync-end'
          ? `sync-end ${op.objects}`
          : op.op,
    );
  }
  return out;
};

test('feed: a snapshot carries every object routed to the node, bracketed', () => {
  const w = createWorld();
  w.put('Dataset', ds('a', 'n1'));
  w.put('Dataset', ds('b', 'n1'));
  w.put('Dataset', ds('c', 'n2'));
  const f = createFeed('n1', { router: w.router, cache: w.lookup });
  f.startSnapshot();
  assert.ok(f.pending());
  assert.deepEqual(drain(f), ['sync-begin', 'upsert Dataset/ns/a', 'upsert Dataset/ns/b', 'sync-end 2']);
  assert.equal(f.pending(), false);
});

test('feed: changes coalesce per object; a change of what was sent is sent once', () => {
  const w = createWorld();
  const f = createFeed('n1', { router: w.router, cache: w.lookup });
  w.router.onChange((node, key) => node === 'n1' && f.markDirty(key));
  w.put('Dataset', ds('a', 'n1'));
  w.put('Dataset', ds('a', 'n1'));
  w.put('Dataset', ds('a', 'n1'));
  assert.deepEqual(drain(f), ['upsert Dataset/ns/a']);
  f.markDirty('Dataset/ns/a');
  assert.deepEqual(drain(f), [], 'an unchanged version is not sent again');
});

test('feed: an object deleted or routed away is deleted on the node only if the node was sent it', () => {
  const w = createWorld();
  const f = createFeed('n1', { router: w.router, cache: w.lookup });
  w.router.onChange((node, key) => node === 'n1' && f.markDirty(key));
  w.put('Dataset', ds('a', 'n1'));
  w.put('Dataset', ds('b', 'n1'));
  assert.deepEqual(drain(f), ['upsert Dataset/ns/a', 'upsert Dataset/ns/b']);
  w.put('Dataset', ds('a', 'n2'));
  w.del('Dataset', 'b');
  w.put('Dataset', ds('c', 'n1'));
  w.del('Dataset', 'c');
  assert.deepEqual(drain(f), ['delete Dataset/ns/a', 'delete Dataset/ns/b']);
});

test('feed: changes during a snapshot follow it; objects gone before their turn are left out', () => {
  const w = createWorld();
  w.put('Dataset', ds('a', 'n1'));
  w.put('Dataset', ds('b', 'n1'));
  const f = createFeed('n1', { router: w.router, cache: w.lookup });
  w.router.onChange((node, key) => node === 'n1' && f.markDirty(key));
  f.startSnapshot();
  assert.equal(f.next()?.op, 'sync-begin');
  assert.ok(f.inSnapshot());
  assert.deepEqual(f.next()?.op === 'upsert', true);
  w.put('Dataset', ds('a', 'n1')); // a already went out: it follows the snapshot
  w.del('Dataset', 'b'); // b's turn has not come: it is simply not in the snapshot
  w.put('Dataset', ds('z', 'n1')); // new: follows the snapshot
  assert.deepEqual(drain(f), ['sync-end 1', 'upsert Dataset/ns/a', 'upsert Dataset/ns/z']);
  assert.equal(f.inSnapshot(), false);
});
