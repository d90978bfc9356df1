/**
 * This replica's own view of the six Sedna kinds: list + watch per kind (client-go reflector
 * semantics: bookmarks, re-watch from the last resourceVersion, relist on 410 Gone or error), with
 * every change reported to listeners. A relist reports the difference to what was cached, deletes
 * included, so nothing is missed while a watch was down.
 */
import { sleep } from '../../common/async.ts';
import { isStatus, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { KubeObject } from '../../common/sedna/objects.ts';
import { KINDS, type Kind } from '../../common/wire/index.ts';
import { API_VERSION } from '../../crds/constants.ts';
import { kindDefinition } from '../../crds/kinds.ts';
import { CACHE_BACKOFF_MAX_MS, CACHE_BACKOFF_MIN_MS, WATCH_TIMEOUT_S } from './constants.ts';

/** `obj` undefined means deleted; `old` is what the cache held before. */
export type CacheListener = (kind: Kind, namespace: string, name: string, obj?: KubeObject, old?: KubeObject) => void;

export interface ObjectCache {
  get(kind: Kind, namespace: string, name: string): KubeObject | undefined;
  list(kind: Kind): Iterable<KubeObject>;
  /** True once every kind was listed at least once. */
  synced(): boolean;
  /** Resolves when synced or `signal` aborts. */
  waitSynced(signal: AbortSignal): Promise<void>;
  onChange(listener: CacheListener): void;
  /** Lists and watches until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
}

interface ListResponse {
  metadata: { resourceVersion: string };
  items: KubeObject[];
}

export function createObjectCache(components: { rest: KubeRest; log: Logger }): ObjectCache {
  const { rest, log } = components;
  const stores = new Map<Kind, Map<string, KubeObject>>(KINDS.map((k) => [k, new Map()]));
  const listed = new Set<Kind>();
  const listeners: CacheListener[] = [];
  const syncWaiters = new Set<() => void>();

  const store = (kind: Kind) => stores.get(kind) as Map<string, KubeObject>;
  const id = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

  function put(kind: Kind, obj: KubeObject) {
    // List items and watch objects may lack TypeMeta; LCs expect `kind` set (Sedna sets it too).
    obj.apiVersion ??= API_VERSION;
    obj.kind ??= kind;
    const s = store(kind);
    const k = id(obj);
    const old = s.get(k);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    s.set(k, obj);
    notify(kind, obj, obj, old);
  }

  function remove(kind: Kind, obj: KubeObject) {
    const s = store(kind);
    const k = id(obj);
    const old = s.get(k);
    if (!old) return;
    s.delete(k);
    notify(kind, obj, undefined, old);
  }

  function notify(kind: Kind, ref: KubeObject, obj: KubeObject | undefined, old: KubeObject | undefined) {
    for (const l of listeners) {
      try {
        l(kind, ref.metadata.namespace ?? '', ref.metadata.name, obj, old);
      } catch (err) {
        log.error({ err, kind }, 'cache listener failed');
      }
    }
  }

  async function reflect(kind: Kind, signal: AbortSignal) {
    const base = `/apis/${API_VERSION}/${kindDefinition(kind).plural}`;
    let backoff = CACHE_BACKOFF_MIN_MS;
    let rv: string | undefined;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await rest.request<ListResponse>('GET', base, { signal });
          const seen = new Set<string>();
          for (const item of list.items) {
            seen.add(id(item));
            put(kind, item);
          }
          for (const [k, old] of [...store(kind)]) if (!seen.has(k)) remove(kind, old);
          rv = list.metadata.resourceVersion;
          if (!listed.has(kind)) {
            listed.add(kind);
            if (listed.size === KINDS.length) for (const w of syncWaiters) w();
          }
        }
        const timeoutSeconds = WATCH_TIMEOUT_S + Math.floor(Math.random() * WATCH_TIMEOUT_S * 0.1);
        for await (const ev of rest.watch<KubeObject & { code?: number }>(base, {
          query: { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
          signal,
        })) {
          if (ev.type === 'ERROR') {
            // 410 Gone: our resourceVersion is too old to resume; anything else: start over too.
            log.debug({ kind, code: ev.object.code }, 'watch error event, relisting');
            rv = undefined;
            break;
          }
          rv = ev.object.metadata?.resourceVersion ?? rv;
          if (ev.type === 'BOOKMARK') continue;
          if (ev.type === 'DELETED') remove(kind, ev.object);
          else put(kind, ev.object);
        }
        backoff = CACHE_BACKOFF_MIN_MS;
      } catch (err) {
        if (signal.aborted) break;
        // Re-watch from the last resourceVersion after a dropped stream; relist only when it is gone.
        if (isStatus(err, 410)) rv = undefined;
        log.warn({ err, kind, retryInMs: backoff }, 'list/watch failed');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, CACHE_BACKOFF_MAX_MS);
      }
    }
  }

  return {
    get: (kind, namespace, name) => store(kind).get(`${namespace}/${name}`),
    list: (kind) => store(kind).values(),
    synced: () => listed.size === KINDS.length,
    waitSynced(signal) {
      if (listed.size === KINDS.length || signal.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          syncWaiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        syncWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    },
    onChange(listener) {
      listeners.push(listener);
    },
    async start(signal) {
      await Promise.all(KINDS.map((k) => reflect(k, signal)));
    },
  };
}
