/**
 * The seam between the LC's core (store, link, worker API) and Sedna's per-kind work: one manager
 * per kind, keyed by Sedna's lowercase kind name, as Sedna's LC keys its FeatureManagers
 * (`Start`, `GetName`, `Insert`, `Delete`, `AddWorkerMessage`).
 *
 * - The core calls `insert`/`delete` for every object the store gains, changes or loses (downstream
 *   frames applied, and every stored object once at start, so managers work with no GM reachable).
 * - A worker message (`POST /sedna/workers/{name}/info`) goes to the manager named by its
 *   `ownerKind`; what it returns becomes the upstream report (or a 4xx).
 * - Managers report through `ManagerContext.report` (durable, through the outbox).
 */
import type { Logger } from '../../common/log.ts';
import type { SednaKind } from '../../common/wire/index.ts';
import type { LcReport } from '../index.ts';
import type { StoredObject } from '../store/types.ts';
import type { WorkerMessage } from '../worker-api.ts';

/** What every manager is given. */
export interface ManagerContext {
  /** This node's name: the objects it serves are those routed to it. */
  node: string;
  /** Where the node's root filesystem is mounted (Sedna's ROOTFS_MOUNT_DIR, default `/rootfs`). */
  rootfs: string;
  /** Directory for the managers' own durable state (trigger state...). */
  stateDir?: string;
  log: Logger;
  /** Durably enqueues a report upstream (coalesced for kinds where only the latest matters). */
  report(r: LcReport): void;
  /** The stored object of a kind, if the node holds it (e.g. the Dataset an IL job names). */
  get(kind: SednaKind, namespace: string, name: string): StoredObject | undefined;
}

/** The answer to a worker message: the report to send, or a refusal (HTTP status and message). */
export type WorkerOutcome = { report: LcReport } | { refuse: { status: 400 | 403 | 404 | 409; message: string } };

export interface Manager {
  /** Sedna's lowercase kind name; worker messages route by `ownerKind` to it. */
  readonly kind: SednaKind;
  /** Runs the manager's loops (monitors, triggers) until `signal` aborts; resolves once stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** An object of this kind was stored (new or changed). */
  insert(obj: StoredObject): void;
  /** An object of this kind left the store. */
  delete(namespace: string, name: string): void;
  /** A worker's message about an object of this kind. */
  workerMessage(m: WorkerMessage): WorkerOutcome;
}
