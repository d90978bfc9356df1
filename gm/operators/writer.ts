import { createHash } from 'node:crypto';
import { isStatus, KubeApiError, type KubeRest } from '../../common/kube/rest.ts';
import type { Counter } from '../../common/metrics.ts';
import type { FencingGuard } from '../election/index.ts';
import { recordEvent } from '../events.ts';
import { FIELD_MANAGER, HASH_ANNOTATION, WRITER_ANNOTATION } from './constants.ts';
import { TerminalError, WriteRefusedError } from './errors.ts';
import { apiVersionOf, type KubeObject, objectPath, type ResourceType } from './resources.ts';

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function desiredHash(obj: KubeObject): string {
  const copy = structuredClone(obj);
  if (copy.metadata.annotations) {
    delete copy.metadata.annotations[HASH_ANNOTATION];
    delete copy.metadata.annotations[WRITER_ANNOTATION];
  }
  return createHash('sha256').update(stableJson(copy)).digest('hex').slice(0, 16);
}

export type ApplyResult = 'unchanged' | 'applied';

/**
 * Every write of the operators. Each one passes the fencing guard (refused unless this replica
 * leads with a trusted lease; cancelled when the trusted window closes) and is a server-side apply
 * or a patch — never a full PUT. Applies are skipped when the object already carries the hash of
 * the same desired state, so a reconcile that finds nothing to change sends nothing.
 */
export interface Writer {
  /**
   * Server-side apply (fieldManager fedmesh-gm, force) of `desired` unless `current` has its hash.
   * An object the API server refuses as invalid (422, 400) throws TerminalError; any other refusal
   * but a conflict or throttling (403, 404, ...) throws WriteRefusedError, to be retried.
   */
  apply(
    resource: ResourceType,
    desired: KubeObject,
    current: KubeObject | undefined,
    signal: AbortSignal,
  ): Promise<ApplyResult>;
  /**
   * JSON merge patch of `status` through the status subresource, valid only if the object is still at
   * `obj`'s resourceVersion (409 Conflict otherwise: someone — the hub — wrote meanwhile; retry).
   */
  patchStatus(
    resource: ResourceType,
    obj: KubeObject,
    status: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<KubeObject>;
  /** JSON merge patch of annotations (no precondition: only the named keys change). */
  patchAnnotations(
    resource: ResourceType,
    obj: KubeObject,
    annotations: Record<string, string>,
    signal: AbortSignal,
  ): Promise<KubeObject>;
  /** JSON merge patch of labels (no precondition: only the named keys change; null removes one). */
  patchLabels(
    resource: ResourceType,
    obj: KubeObject,
    labels: Record<string, string | null>,
    signal: AbortSignal,
  ): Promise<KubeObject>;
  /** Deletes `obj` if it still has the same uid; absent is fine. */
  delete(resource: ResourceType, obj: KubeObject, signal: AbortSignal): Promise<void>;
  /**
   * Posts a core/v1 Event about `obj` (`kubectl describe` shows it). Best effort: a failure is
   * returned as false, never thrown, except NotLeaderError when the guard refuses.
   */
  event(
    resource: ResourceType,
    obj: KubeObject,
    ev: { type: 'Normal' | 'Warning'; reason: string; message: string },
    signal: AbortSignal,
  ): Promise<boolean>;
}

export interface WriterComponents {
  rest: KubeRest;
  guard: FencingGuard;
  /** `<replica>/<term>`, stamped on every applied object. */
  writerId: () => string;
  /** The reporting replica named in Events. */
  instance: string;
  writes?: Counter;
}

export function createWriter(c: WriterComponents): Writer {
  const { rest, guard } = c;
  const count = (verb: string, resource: ResourceType) => c.writes?.inc(1, { verb, resource: resource.plural });
  // Checked again as the bytes leave (see RequestInit.beforeSend), not only when the write starts.
  const fence = () => guard.check();
  const guarded = <T>(signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>) =>
    guard.write((term) => fn(AbortSignal.any([term, signal])));
  const ns = (o: KubeObject) => o.metadata.namespace ?? '';
  // Labels and annotations are merge-patched the same way; `verb` names the write in the metrics.
  const patchMetadata = async (
    resource: ResourceType,
    obj: KubeObject,
    metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
    verb: string,
    signal: AbortSignal,
  ) => {
    const out = await guarded(signal, (s) =>
      rest.request<KubeObject>('PATCH', objectPath(resource, ns(obj), obj.metadata.name), {
        body: { metadata },
        contentType: 'application/merge-patch+json',
        query: { fieldManager: FIELD_MANAGER },
        signal: s,
        beforeSend: fence,
      }),
    );
    count(verb, resource);
    return out;
  };

  return {
    async apply(resource, desired, current, signal) {
      const hash = desiredHash(desired);
      if (current && current.metadata.annotations?.[HASH_ANNOTATION] === hash && !current.metadata.deletionTimestamp) {
        return 'unchanged';
      }
      const body: KubeObject = {
        ...desired,
        metadata: {
          ...desired.metadata,
          annotations: { ...desired.metadata.annotations, [HASH_ANNOTATION]: hash, [WRITER_ANNOTATION]: c.writerId() },
        },
      };
      try {
        await guarded(signal, (s) =>
          rest.request('PATCH', objectPath(resource, ns(desired), desired.metadata.name), {
            body,
            contentType: 'application/apply-patch+yaml',
            query: { fieldManager: FIELD_MANAGER, force: true },
            signal: s,
            beforeSend: fence,
          }),
        );
      } catch (err) {
        // The API server refuses the object itself (a pod template the CRD keeps opaque): no retry fixes that.
        if (isStatus(err, 422) || isStatus(err, 400)) {
          throw new TerminalError(`${resource.kind} ${desired.metadata.name}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        // Refused for what the cluster lacks (a ServiceAccount, a permission): retried, and said.
        if (err instanceof KubeApiError && err.status >= 400 && err.status < 500 && ![409, 429].includes(err.status)) {
          throw new WriteRefusedError(resource.kind, desired.metadata.name, err);
        }
        throw err;
      }
      count('apply', resource);
      return 'applied';
    },
    async patchStatus(resource, obj, status, signal) {
      const out = await guarded(signal, (s) =>
        rest.request<KubeObject>('PATCH', objectPath(resource, ns(obj), obj.metadata.name, 'status'), {
          body: { metadata: { resourceVersion: obj.metadata.resourceVersion }, status },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: FIELD_MANAGER },
          signal: s,
          beforeSend: fence,
        }),
      );
      count('status', resource);
      return out;
    },
    patchAnnotations: (resource, obj, annotations, signal) =>
      patchMetadata(resource, obj, { annotations }, 'annotate', signal),
    patchLabels: (resource, obj, labels, signal) => patchMetadata(resource, obj, { labels }, 'label', signal),
    async delete(resource, obj, signal) {
      try {
        await guarded(signal, (s) =>
          rest.request('DELETE', objectPath(resource, ns(obj), obj.metadata.name), {
            body: { preconditions: { uid: obj.metadata.uid }, propagationPolicy: 'Background' },
            signal: s,
            beforeSend: fence,
          }),
        );
        count('delete', resource);
      } catch (err) {
        // 404: already gone; 409: the uid precondition failed, so that object is gone too.
        if (!isStatus(err, 404) && !isStatus(err, 409)) throw err;
      }
    },
    async event(resource, obj, ev, signal) {
      const involved = {
        apiVersion: apiVersionOf(resource),
        kind: resource.kind,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
      };
      try {
        await guarded(signal, (s) =>
          recordEvent(rest, { namespace: ns(obj), involved, ...ev, instance: c.instance }, s),
        );
        count('event', resource);
        return true;
      } catch (err) {
        if ((err as Error).name === 'NotLeaderError') throw err;
        return false;
      }
    },
  };
}
