import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { ListerWatcher, ListPage } from '../../common/kube/informer.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import type { KubeRest, WatchEvent } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createServiceCatalog, type ServiceChange } from './catalog.ts';

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

/**
 * A small in-memory ListerWatcher (our own interface, not the Kubernetes API): each list returns
 * the next snapshot, each watch replays the next script, then blocks until abort. The real API
 * server paths are in test/mesh/services.test.ts.
 */
function scripted(lists: KubeObject[][], watches: WatchEvent<KubeObject>[][]): ListerWatcher & { lists: number } {
  let l = 0;
  let w = 0;
  const lw = {
    lists: 0,
    async list(): Promise<ListPage> {
      lw.lists++;
      const items = lists[Math.min(l++, lists.length - 1)] ?? [];
      return { items, metadata: { resourceVersion: String(l * 100) } };
    },
    async *watch(_q: unknown, signal: AbortSignal) {
      const events = watches[w++];
      if (events) {
        for (const e of events) yield e;
        return;
      }
      if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  };
  return lw;
}

const svc = (name: string, rv: string, clusterIP = '10.0.0.1'): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  spec: { clusterIP, ports: [{ name: 'http', port: 80 }] },
});
const slice = (name: string, service: string, rv: string, ip: string): KubeObject =>
  ({
    metadata: { name, namespace: 'ns', resourceVersion: rv, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip], nodeName: 'edge-1' }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  }) as KubeObject;

test('catalog: a 410 relist drops what vanished meanwhile, keeps the rest, and tells listeners once per change', async () => {
  const gone = {
    type: 'ERROR',
    object: { code: 410, reason: 'Expired', metadata: { name: '' } },
  } as unknown as WatchEvent<KubeObject>;
  const services = scripted([[svc('a', '1'), svc('b', '2', '10.0.0.2')], [svc('a', '1')]], [[gone]]);
  const slices = scripted(
    [[slice('a-1', 'a', '3', '10.1.0.1')], [slice('a-1', 'a', '3', '10.1.0.1'), slice('a-2', 'a', '9', '10.1.0.2')]],
    [
      [
        { type: 'ADDED', object: { ...slice('bad', 'a', '4', ''), endpoints: [{ addresses: [] }] } as KubeObject },
        gone,
      ],
    ],
  );
  const catalog = createServiceCatalog(
    {},
    { rest: {} as KubeRest, log, listerWatchers: { services, endpointSlices: slices } },
  );
  const changes: ServiceChange[] = [];
  const off = catalog.onChange((c) => changes.push(c));
  const ac = new AbortController();
  const running = catalog.start(ac.signal);
  assert.equal(await catalog.waitForSync(ac.signal), true);
  while (services.lists < 2 || slices.lists < 2) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await running;
  off();

  assert.equal(catalog.lookup('ns', 'b'), undefined, 'deleted while the watch was gone');
  assert.equal(catalog.byClusterIP('10.0.0.2', 80), undefined);
  assert.deepEqual(
    catalog.lookup('ns', 'a')?.endpoints.map((e) => e.addresses[0]),
    ['10.1.0.1', '10.1.0.2'],
    'the malformed slice is ignored, the new one merged',
  );
  assert.equal(catalog.byClusterIP('10.0.0.1', 80)?.entry.service.name, 'a');
  const b = changes.filter((c) => c.name === 'b');
  assert.deepEqual(
    b.map((c) => c.entry !== undefined),
    [true, false],
    'b: added, then removed once',
  );
  assert.equal(new Set(changes.map((c) => JSON.stringify(c.entry))).size, changes.length, 'no no-op events');
});
