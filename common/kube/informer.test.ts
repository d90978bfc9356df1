import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../log.ts';
import { createInformer, type ListerWatcher, type ListPage } from './informer.ts';
import type { KubeObject, ResourceType } from './objects.ts';
import type { WatchEvent } from './rest.ts';

const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

const obj = (name: string, rv: string, owner?: string): KubeObject => ({
  metadata: {
    name,
    namespace: 'ns',
    resourceVersion: rv,
    uid: `uid-${name}`,
    ownerReferences: owner ? [{ apiVersion: 'v1', kind: 'X', name: 'o', uid: owner, controller: true }] : undefined,
  },
});

/**
 * A scripted ListerWatcher (our own small interface): each list returns the next snapshot, each
 * watch replays the next script. Integration tests cover the same paths against the API server.
 */
function scripted(lists: ListPage[][], watches: WatchEvent<KubeObject>[][]) {
  const calls: { op: string; query: Record<string, unknown> }[] = [];
  let l = 0;
  let page = 0;
  let w = 0;
  const lw: ListerWatcher = {
    async list(query) {
      calls.push({ op: 'list', query });
      const pages = lists[Math.min(l, lists.length - 1)] as ListPage[];
      const p = pages[page] as ListPage;
      if (p.metadata?.continue) page++;
      else {
        page = 0;
        l++;
      }
      return p;
    },
    async *watch(query, signal) {
      calls.push({ op: 'watch', query });
      const events = watches[w++];
      if (!events) {
        if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        return;
      }
      for (const e of events) yield e;
    },
  };
  return { lw, calls };
}

test('informer: paged list, watch from the list version, relist on 410 Gone with deletes and adds', async () => {
  const { lw, calls } = scripted(
    [
      [
        { items: [obj('a', '5', 'owner-1')], metadata: { resourceVersion: '10', continue: 'c1' } },
        { items: [obj('b', '6')], metadata: { resourceVersion: '10' } },
      ],
      [{ items: [obj('b', '6'), obj('c', '30', 'owner-1')], metadata: { resourceVersion: '40' } }],
    ],
    [
      [
        { type: 'MODIFIED', object: obj('a', '11', 'owner-1') },
        { type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '15' } } },
      ],
      [{ type: 'ERROR', object: { code: 410, reason: 'Expired', metadata: { name: '' } } as unknown as KubeObject }],
    ],
  );
  const events: string[] = [];
  const inf = createInformer({ resource: PODS, labelSelector: 'x' }, { listerWatcher: lw, log, random: () => 0 });
  inf.addHandlers({
    add: (o) => events.push(`add ${o.metadata.name}`),
    update: (_, o) => events.push(`update ${o.metadata.name}@${o.metadata.resourceVersion}`),
    delete: (o) => events.push(`delete ${o.metadata.name}`),
    relisted: () => events.push('relisted'),
  });
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  assert.equal(await inf.waitForSync(ac.signal), true);
  while (inf.lists() < 2) await new Promise((r) => setTimeout(r, 1));
  // the third watch blocks until abort
  while (calls.filter((c) => c.op === 'watch').length < 3) await new Promise((r) => setTimeout(r, 1));
  ac.abort();
  await running;

  assert.deepEqual(events, [
    'add a',
    'add b',
    'relisted',
    'update a@11',
    // relist after 410: a is gone, b unchanged (no event), c new
    'add c',
    'delete a',
    'relisted',
  ]);
  const ops = calls.map(
    (c) => `${c.op}${c.query.continue ? `(${c.query.continue})` : ''}@${c.query.resourceVersion ?? ''}`,
  );
  assert.deepEqual(ops, ['list@', 'list(c1)@', 'watch@10', 'watch@15', 'list@', 'watch@40']);
  assert.equal(calls[0]?.query.labelSelector, 'x');
  assert.deepEqual(
    inf.list().map((o) => o.metadata.name),
    ['b', 'c'],
  );
  assert.deepEqual(
    inf.byController('owner-1').map((o) => o.metadata.name),
    ['c'],
    'the owner index follows deletes',
  );
  assert.equal(inf.resourceVersion(), '40');
});

test('informer: an error before the first list is retried; waitForSync ends false on abort', async () => {
  let fail = 2;
  const lw: ListerWatcher = {
    async list() {
      if (fail-- > 0) throw new Error('connection refused');
      return { items: [], metadata: { resourceVersion: '1' } };
    },
    async *watch(_q, signal) {
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  };
  const inf = createInformer({ resource: PODS }, { listerWatcher: lw, log, random: () => 0 });
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  assert.equal(await inf.waitForSync(ac.signal), true);
  assert.equal(inf.hasSynced(), true);
  ac.abort();
  await running;

  const never = createInformer(
    { resource: PODS },
    {
      listerWatcher: { list: () => new Promise(() => {}), watch: lw.watch },
      log,
    },
  );
  const ac2 = new AbortController();
  const w = never.waitForSync(ac2.signal);
  ac2.abort();
  assert.equal(await w, false);
});
