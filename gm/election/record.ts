/**
 * client-go's LeaderElectionRecord and its mapping onto a `coordination.k8s.io/v1` Lease, so that a
 * fedmesh replica and a client-go participant read and write the same fields the same way.
 */

export interface LeaderElectionRecord {
  /** Empty when released (client-go's release writes ""). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** RFC 3339 MicroTime strings, as stored by the API server. */
  acquireTime: string;
  renewTime: string;
  leaderTransitions: number;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [other: string]: unknown;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

export function recordFromLease(lease: Lease): LeaderElectionRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? '',
    renewTime: s.renewTime ?? '',
    leaderTransitions: s.leaseTransitions ?? 0,
  };
}

export function leaseSpecFromRecord(r: LeaderElectionRecord): LeaseSpec {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTime || undefined,
    renewTime: r.renewTime || undefined,
    leaseTransitions: r.leaderTransitions,
  };
}

/**
 * A canonical serialisation: "has the record changed since I last looked?" is answered by
 * comparing these strings, as client-go compares the raw record bytes.
 */
export function rawRecord(r: LeaderElectionRecord): string {
  return JSON.stringify([r.holderIdentity, r.leaseDurationSeconds, r.acquireTime, r.renewTime, r.leaderTransitions]);
}
