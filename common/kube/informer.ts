import { sleep } from '../async.ts';
import type { Logger } from '../log.ts';
import { collectionPath, controllerOf, type KubeObject, keyOf, type ResourceType } from './objects.ts';
import { isStatus, KubeApiError, type KubeRest, type WatchEvent } from './rest.ts';

/** Page size of lists: bounds one response's memory for big namespaces. */
export const LIST_PAGE_SIZE = 500;
/** Server-side watch timeout range (s); randomised so that watches do not all reconnect at once. */
export const WATCH_TIMEOUT_MIN_S = 300;
export const WATCH_TIMEOUT_MAX_S = 600;
/** Delay before re-listing or re-watching after an error (ms), doubling up to the max. */
export const INFORMER_RETRY_MS = 200;
export const INFORMER_RETRY_MAX_MS = 10_000;

type Query = Record<string, string | number | boolean | undefined>;

export interface ListPage {
  items?: KubeObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** The two calls an informer makes; the default goes to the API server through KubeRest. */
export interface ListerWatcher {
  list(query: Query, signal: AbortSignal): Promise<ListPage>;
  watch(query: Query, signal: AbortSignal): AsyncIterable<WatchEvent<KubeObject>>;
}

export function restListerWatcher(rest: KubeRest, resource: ResourceType, namespace?: string): ListerWatcher {
  const path = collectionPath(resource, namespace);
  return {
    list: (query, signal) => rest.request<ListPage>('GET', path, { query, signal }),
    watch: (query, signal) => rest.watch<KubeObject>(path, { query, signal }),
  };
}

export interface InformerHandlers {
  add?(obj: KubeObject): void;
  update?(old: KubeObject, cur: KubeObject): void;
  delete?(obj: KubeObject): void;
  /** After every full list (the first sync and each relist after 410 Gone). */
  relisted?(): void;
}

export interface InformerInit {
  resource: ResourceType;
  /** Only this namespace; default all. */
  namespace?: string;
  labelSelector?: string;
}

/**
 * A cache of one resource kept current by list + watch (client-go's reflector and indexer in
 * small): lists in pages, watches from the list's resourceVersion with bookmarks, re-watches from
 * the last seen version when a stream ends, and lists again when the API answers 410 Gone (the
 * version was compacted away). Handlers see adds, updates and deletes, also those a relist implies.
 */
export interface Informer {
  readonly resource: ResourceType;
  /** Runs until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
  /** True once the first full list is in the cache. */
  hasSynced(): boolean;
  /** Resolves true when synced, false if `signal` aborted first. */
  waitForSync(signal: AbortSignal): Promise<boolean>;
  get(namespace: string, name: string): KubeObject | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): KubeObject[];
  /** Objects whose controller ownerReference has this uid. */
  byController(uid: string): KubeObject[];
  addHandlers(h: InformerHandlers): void;
  /** Full lists done so far (1 after the first sync). */
  lists(): number;
  /** The resourceVersion the cache is current to. */
  resourceVersion(): string;
}

export function createInformer(
  init: InformerInit,
  components: { listerWatcher: ListerWatcher; log: Logger; random?: () => number },
): Informer {
  const { listerWatcher: lw } = components;
  const random = components.random ?? Math.random;
  const log = components.log.child({ resource: init.resource.plural, selector: init.labelSelector });
  const store = new Map<string, KubeObject>();
  const owned = new Map<string, Map<string, KubeObject>>();
  const handlers: InformerHandlers[] = [];
  let synced = false;
  let rv = '';
  let listCount = 0;
  const syncWaiters = new Set<() => void>();

  function index(key: string, obj: KubeObject | undefined, prev: KubeObject | undefined): void {
    const before = prev ? controllerOf(prev)?.uid : undefined;
    const after = obj ? controllerOf(obj)?.uid : undefined;
    if (before && before !== after) owned.get(before)?.delete(key);
    if (before && owned.get(before)?.size === 0) owned.delete(before);
    if (after && obj) {
      const m = owned.get(after) ?? new Map<string, KubeObject>();
      owned.set(after, m);
      m.set(key, obj);
    }
  }

  function upsert(obj: KubeObject): void {
    const key = keyOf(obj);
    const prev = store.get(key);
    store.set(key, obj);
    index(key, obj, prev);
    for (const h of handlers) {
      if (prev) h.update?.(prev, obj);
      else h.add?.(obj);
    }
  }

  function remove(obj: KubeObject): void {
    const key = keyOf(obj);
    const prev = store.get(key);
    store.delete(key);
    index(key, undefined, prev);
    for (const h of handlers) h.delete?.(prev ?? obj);
  }

  /** Lists every page; replaces the store, telling handlers what changed meanwhile. */
  async function relist(signal: AbortSignal): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let listRv = '';
    do {
      const page = await lw.list(
        { labelSelector: init.labelSelector, limit: LIST_PAGE_SIZE, continue: cont },
        AbortSignal.any([signal, AbortSignal.timeout(60_000)]),
      );
      if (!cont) listRv = page.metadata?.resourceVersion ?? '';
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(keyOf(item));
      const prev = store.get(keyOf(item));
      if (prev?.metadata.resourceVersion !== item.metadata.resourceVersion || !prev) upsert(item);
    }
    for (const [key, obj] of [...store]) if (!seen.has(key)) remove(obj);
    rv = listRv;
    listCount++;
    if (!synced) {
      synced = true;
      log.debug({ objects: store.size, resourceVersion: rv }, 'informer synced');
      for (const w of syncWaiters) w();
      syncWaiters.clear();
    }
    for (const h of handlers) h.relisted?.();
  }

  /** Streams one watch; returns 'gone' when the version is too old (relist), 'ended' otherwise. */
  async function watchOnce(signal: AbortSignal): Promise<'gone' | 'ended'> {
    const timeoutSeconds = Math.floor(WATCH_TIMEOUT_MIN_S + random() * (WATCH_TIMEOUT_MAX_S - WATCH_TIMEOUT_MIN_S));
    for await (const ev of lw.watch(
      { resourceVersion: rv, allowWatchBookmarks: true, labelSelector: init.labelSelector, timeoutSeconds },
      signal,
    )) {
      switch (ev.type) {
        case 'ADDED':
        case 'MODIFIED':
          upsert(ev.object);
          break;
        case 'DELETED':
          remove(ev.object);
          break;
        case 'BOOKMARK':
          break;
        case 'ERROR': {
          const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
          if (st.code === 410 || st.reason === 'Expired' || st.reason === 'Gone') return 'gone';
          throw new KubeApiError(st.code ?? 500, st.reason ?? 'Unknown', st.message ?? 'watch error');
        }
      }
      if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
    }
    return 'ended';
  }

  return {
    resource: init.resource,
    async start(signal) {
      let needList = true;
      let delay = INFORMER_RETRY_MS;
      while (!signal.aborted) {
        try {
          if (needList) {
            await relist(signal);
            needList = false;
          }
          if (signal.aborted) break;
          const r = await watchOnce(signal);
          if (r === 'gone') {
            log.info({ resourceVersion: rv }, 'watch version expired, listing again');
            needList = true;
          }
          delay = INFORMER_RETRY_MS;
        } catch (err) {
          if (signal.aborted) break;
          if (isStatus(err, 410)) {
            log.info({ resourceVersion: rv }, 'watch version expired, listing again');
            needList = true;
            continue;
          }
          // 404: the CRD is not installed yet; anything else: API away. Both heal by retrying.
          log.warn({ err, retryMs: delay }, 'informer list/watch failed');
          await sleep(delay * (1 + random() * 0.2), signal);
          delay = Math.min(INFORMER_RETRY_MAX_MS, delay * 2);
        }
      }
    },
    hasSynced: () => synced,
    waitForSync(signal) {
      if (synced) return Promise.resolve(true);
      if (signal.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', abort);
          resolve(true);
        };
        const abort = () => {
          syncWaiters.delete(done);
          resolve(false);
        };
        syncWaiters.add(done);
        signal.addEventListener('abort', abort, { once: true });
      });
    },
    get: (namespace, name) => store.get(`${namespace}/${name}`),
    list(namespace) {
      const all = [...store.values()];
      return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
    },
    byController: (uid) => [...(owned.get(uid)?.values() ?? [])],
    addHandlers(h) {
      handlers.push(h);
    },
    lists: () => listCount,
    resourceVersion: () => rv,
  };
}
