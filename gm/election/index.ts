/**
 * gm/election: leader election on a `coordination.k8s.io/v1` Lease with client-go semantics, and the
 * fencing guard the leader's writes pass. See README.md.
 */
export type { Clock } from './clock.ts';
export { systemClock } from './clock.ts';
export { DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS } from './constants.ts';
export type {
  ElectorObserver,
  ElectorStatus,
  LeaderCallbacks,
  LeaderElector,
  LeaderElectorComponents,
  LeaderElectorInit,
} from './elector.ts';
export { createLeaderElector } from './elector.ts';
export { LeaseLostError, NotLeaderError } from './errors.ts';
export type { FencingGuard } from './guard.ts';
export type { LeaseLock, LeaseLockInit } from './lock.ts';
export { createLeaseLock } from './lock.ts';
export type { LeaseOp, LeaseProblem } from './problems.ts';
export type { LeaderElectionRecord } from './record.ts';
export { validateTiming } from './timing.ts';
