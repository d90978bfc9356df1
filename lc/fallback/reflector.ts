/**
 * List + watch of one Sedna kind through the edge API, applied to the LC store (client-go's
 * reflector in small, with the store as the cache): a paged list selected by this node's target
 * label ends with a `retain` of what it listed (no delete is missed while not watching), a watch
 * from the list's version with bookmarks, re-watched from the last version when it ends, listed
 * again on 410 Gone or when it idles. Objects without this node's label (an endpoint that ignores the
 * selector, or an object the labeler just untargeted) are dropped here, or deleted when held.
 */

import type { Logger } from '../../common/log.ts';
import { isLabelled, isTargeted, targetSelector } from '../../common/sedna/targets.ts';
import type { Kind } from '../../common/wire/index.ts';
import { API_VERSION } from '../../crds/constants.ts';
import { kindDefinition } from '../../crds/kinds.ts';
import { recordApplied } from '../history.ts';
import { type AppliedOp, type LcStore, type StoreOp, storeKey } from '../store/types.ts';
import type { EdgeApiClient, WatchEvent } from './client.ts';
import { LIST_PAGE_SIZE } from './constants.ts';
import { FallbackError } from './errors.ts';

export interface ReflectorInit {
  kind: Kind;
  node: string;
  namespace?: string;
  watchTimeoutMinS: number;
  watchTimeoutMaxS: number;
  watchIdleMs: number;
  requestTimeoutMs: number;
}

export interface ReflectorComponents {
  client: EdgeApiClient;
  store: LcStore;
  log: Logger;
  random: () => number;
  /** An object arrived (list item or watch event other than a bookmark). */
  received(kind: Kind): void;
  /** An object arrived without this node's label: the endpoint ignores the selector. */
  filtered(kind: Kind): void;
  applied(ops: AppliedOp[]): void;
}

interface ObjectShape {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}

interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: ObjectShape[];
}

/** One kind's list and watch; each call continues from the version the last one reached. */
export interface Reflector {
  readonly kind: Kind;
  /** Lists (paged), applies the result with a retain of this kind, and returns the list's version. */
  list(signal: AbortSignal): Promise<void>;
  /** Watches from the last version until the stream ends ('ended') or the version expired ('gone'). */
  watch(signal: AbortSignal): Promise<'ended' | 'gone'>;
  /** The version the store is current to for this kind ('' before the first list). */
  version(): string;
}

export function createReflector(init: ReflectorInit, c: ReflectorComponents): Reflector {
  const { kind, node } = init;
  const plural = kindDefinition(kind).plural;
  const path = init.namespace
    ? `/apis/${API_VERSION}/namespaces/${init.namespace}/${plural}`
    : `/apis/${API_VERSION}/${plural}`;
  const selector = targetSelector(node);
  const log = c.log.child({ kind });
  let rv = '';

  /** Valid JSON of a Sedna object: name present, kind and apiVersion set as the GM sets them. */
  function normalise(o: ObjectShape): Record<string, unknown> | undefined {
    if (typeof o !== 'object' || o === null || typeof o.metadata?.name !== 'string') return undefined;
    return { ...o, apiVersion: API_VERSION, kind };
  }
  const mine = (o: ObjectShape) => isTargeted(o.metadata?.labels, node);
  const keyOf = (o: ObjectShape) => storeKey(kind, o.metadata?.namespace ?? '', o.metadata?.name ?? '');

  function apply(ops: StoreOp[]) {
    const done = c.store.apply(ops, c.store.position());
    recordApplied(done, 'fallback');
    if (done.length) c.applied(done);
  }

  return {
    kind,
    version: () => rv,
    async list(signal) {
      const kept: StoreOp[] = [];
      const keys = new Set<string>();
      let cont: string | undefined;
      let listRv = '';
      do {
        const page = await c.client.request<ListPage>('GET', path, {
          query: { labelSelector: selector, limit: LIST_PAGE_SIZE, continue: cont },
          signal: AbortSignal.any([signal, AbortSignal.timeout(init.requestTimeoutMs)]),
        });
        if (!Array.isArray(page.items)) {
          throw new FallbackError('ERR_EDGE_API_BAD_RESPONSE', `list ${path}: no items (not a Kubernetes list)`);
        }
        if (cont === undefined) listRv = page.metadata?.resourceVersion ?? '';
        for (const item of page.items) {
          c.received(kind);
          const obj = normalise(item);
          if (!obj) continue;
          if (!mine(item)) {
            c.filtered(kind);
            continue;
          }
          keys.add(keyOf(item));
          kept.push({
            op: 'upsert',
            kind,
            namespace: item.metadata?.namespace ?? '',
            name: item.metadata?.name ?? '',
            object: obj,
          });
        }
        cont = page.metadata?.continue || undefined;
      } while (cont);
      // The list says nothing about objects outside the watched namespace, nor about objects that
      // carry no target label at all (a GM delivered them before the labeler saw them, or no leader
      // runs the labeler): those stay. Held objects labelled for any node are judged by the list.
      for (const o of c.store.listObjects(kind)) {
        const labels = (o.object.metadata as ObjectShape['metadata'])?.labels;
        if ((init.namespace !== undefined && o.namespace !== init.namespace) || !isLabelled(labels)) {
          keys.add(keyOf({ metadata: o }));
        }
      }
      apply([...kept, { op: 'retain', kind, keys }]);
      rv = listRv;
      log.debug({ objects: keys.size, resourceVersion: rv }, 'edge api listed');
    },
    async watch(signal) {
      const span = init.watchTimeoutMaxS - init.watchTimeoutMinS;
      const timeoutSeconds = Math.floor(init.watchTimeoutMinS + c.random() * span);
      const events = c.client.watch(path, {
        query: {
          labelSelector: selector,
          resourceVersion: rv || undefined,
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        signal,
        idleMs: init.watchIdleMs,
      });
      for await (const ev of events) {
        if (signal.aborted) break;
        const outcome = event(ev);
        if (outcome === 'gone') return 'gone';
      }
      return 'ended';
    },
  };

  function event(ev: WatchEvent): 'gone' | undefined {
    const o = ev.object as ObjectShape;
    if (ev.type === 'ERROR') {
      const st = ev.object as { code?: number; reason?: string; message?: string };
      if (st.code === 410 || st.reason === 'Expired' || st.reason === 'Gone') return 'gone';
      throw new FallbackError(
        'ERR_EDGE_API_HTTP',
        `watch ${path}: ${st.code ?? '?'} ${st.message ?? st.reason ?? ''}`,
        st.code,
      );
    }
    const version = o?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (version) rv = version;
      return undefined;
    }
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') {
      throw new FallbackError('ERR_EDGE_API_BAD_RESPONSE', `watch ${path}: unknown event type ${String(ev.type)}`);
    }
    c.received(kind);
    const obj = normalise(o);
    if (!obj) throw new FallbackError('ERR_EDGE_API_BAD_RESPONSE', `watch ${path}: event without an object name`);
    const namespace = o.metadata?.namespace ?? '';
    const name = o.metadata?.name ?? '';
    if (ev.type !== 'DELETED' && !mine(o)) {
      // Not (or no longer) for this node: a selector-honouring endpoint sends DELETED instead.
      c.filtered(kind);
      apply([{ op: 'delete', kind, namespace, name, ...(version ? { resourceVersion: version } : {}) }]);
    } else if (ev.type === 'DELETED') {
      apply([{ op: 'delete', kind, namespace, name, ...(version ? { resourceVersion: version } : {}) }]);
    } else apply([{ op: 'upsert', kind, namespace, name, object: obj }]);
    if (version) rv = version;
    return undefined;
  }
}
