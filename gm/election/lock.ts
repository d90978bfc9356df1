import { isStatus, type KubeRest, type WatchEvent } from '../../common/kube/rest.ts';
import { type LeaderElectionRecord, type Lease, leaseSpecFromRecord, rawRecord, recordFromLease } from './record.ts';

/** What the elector read: the record, its canonical raw form, and the version to update against. */
export interface Observed {
  record: LeaderElectionRecord;
  raw: string;
  resourceVersion: string;
}

/**
 * The resource lock, in client-go's shape: get / create / update one Lease, plus a watch so that
 * standbys learn of a release at once instead of at their next poll.
 */
export interface LeaseLock {
  readonly identity: string;
  /** The Lease's namespace. */
  readonly namespace: string;
  /** `namespace/name`, for logs. */
  describe(): string;
  /** The current record, or undefined when the Lease does not exist. */
  get(signal: AbortSignal): Promise<Observed | undefined>;
  /** Creates the Lease; throws a 409 KubeApiError if it exists. */
  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<Observed>;
  /** Optimistic update against `resourceVersion`; throws a 409 KubeApiError on a stale version. */
  update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<Observed>;
  /**
   * Streams the Lease's state: first its current state (if it exists), then every change
   * (`undefined` = deleted), until the server ends the stream or the signal aborts.
   */
  watch(signal: AbortSignal, onOpen?: () => void): AsyncIterable<Observed | undefined>;
  /** The Lease object's identity for Events (`uid`), once known. */
  uid(): string | undefined;
}

export interface LeaseLockInit {
  namespace: string;
  name: string;
  identity: string;
}

function observe(lease: Lease): Observed {
  const record = recordFromLease(lease);
  return { record, raw: rawRecord(record), resourceVersion: lease.metadata.resourceVersion ?? '' };
}

export function createLeaseLock(init: LeaseLockInit, rest: KubeRest): LeaseLock {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(init.namespace)}/leases`;
  const path = `${base}/${encodeURIComponent(init.name)}`;
  let leaseUid: string | undefined;
  const seen = (lease: Lease): Observed => {
    leaseUid = lease.metadata.uid ?? leaseUid;
    return observe(lease);
  };
  const body = (record: LeaderElectionRecord, resourceVersion?: string): Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: init.name, namespace: init.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: leaseSpecFromRecord(record),
  });
  return {
    identity: init.identity,
    namespace: init.namespace,
    describe: () => `${init.namespace}/${init.name}`,
    uid: () => leaseUid,
    async get(signal) {
      try {
        return seen(await rest.request<Lease>('GET', path, { signal }));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async create(record, signal) {
      return seen(await rest.request<Lease>('POST', base, { body: body(record), signal }));
    },
    async update(record, resourceVersion, signal) {
      return seen(await rest.request<Lease>('PUT', path, { body: body(record, resourceVersion), signal }));
    },
    async *watch(signal, onOpen) {
      // No resourceVersion: the API server first sends the current object as ADDED, then changes.
      const events = rest.watch<Lease>(base, {
        query: { fieldSelector: `metadata.name=${init.name}`, timeoutSeconds: 300 },
        signal,
        onOpen,
      });
      for await (const ev of events as AsyncIterable<WatchEvent<Lease>>) {
        if (ev.type === 'BOOKMARK') continue;
        if (ev.type === 'ERROR') throw new Error(`lease watch error: ${JSON.stringify(ev.object)}`);
        yield ev.type === 'DELETED' ? undefined : seen(ev.object);
      }
    },
  };
}
