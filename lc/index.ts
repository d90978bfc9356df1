/**
 * lc: the Local Controller of one edge node. See README.md. This file is its face: the types of
 * the public surface and `createLc` (implemented in lc.ts).
 */
import type { Logger } from '../common/log.ts';
import type { ListenerLimits } from '../common/net/guard.ts';
import type { Kind, SednaKind } from '../common/wire/index.ts';
import type { FallbackInit, FallbackStatus } from './fallback/index.ts';
import type { Dialer, LinkObserver, LinkStatus } from './link.ts';
import type { ManagerFactory } from './managers/registry.ts';
import type { ActivePath, FallbackRunner, GmPathName } from './paths/index.ts';
import type { LcStore, OutboxEntry } from './store/types.ts';

export { REPORT_REFUSALS, type ReportRefusalCode, ReportRefusedError } from './errors.ts';
export { createLc } from './lc.ts';
export type { Dialer, LinkObserver, LinkStatus } from './link.ts';
export type { ActivePath, FallbackRunner, PathName, PathStatus } from './paths/index.ts';
export type { DeadLetter, DeadLetterCause, LcStore, OutboxEntry, StoredObject } from './store/types.ts';

export interface LcInit {
  /** This node's name (Sedna's NODENAME). */
  node: string;
  /** GM endpoints, ws:// URLs (VIP, Service, replicas), tried in turn: the `direct` path. May be empty. */
  endpoints: string[];
  /** The `mesh` path: ws:// URLs of the node mesh agent's local forwards to any GM replica. Default none. */
  meshEndpoints?: string[];
  /** The `fallback` path: list-watch through the edge API (lc/fallback); undefined: no fallback. */
  fallback?: Omit<FallbackInit, 'node'>;
  /** While on a worse path, better ones are probed this often (ms). Default PATH_PROBE_PERIOD_MS (5 s). */
  probePeriodMs?: number;
  /** LC-side link heartbeat (ms): ping after this much silence. Default LINK_HEARTBEAT_INTERVAL_MS (200). */
  heartbeatIntervalMs?: number;
  /** LC-side link heartbeat (ms): a GM silent this long is dropped as dead. Default LINK_HEARTBEAT_TIMEOUT_MS (800). */
  heartbeatTimeoutMs?: number;
  /** Directory of the SQLite store; undefined keeps state in memory (tests, benchmarks). */
  stateDir?: string;
  /** Worker API listen address; undefined: no HTTP server. Default in the CLI: 0.0.0.0:9100. */
  http?: { host: string; port: number };
  /** Limits of the HTTP listener. Default DEFAULT_HTTP_LIMITS (1 024 connections, 256 per source, 10 s handshake). */
  httpLimits?: ListenerLimits;
  /** File with the bearer token (re-read on every dial); missing file: no credentials. Default DEFAULT_TOKEN_FILE. */
  tokenFile?: string;
  /** Dial backoff bounds (ms), waited before every reconnect. Defaults 250 / 15 000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Version string sent in hello. */
  lcVersion?: string;
  /**
   * Largest upstream report frame (bytes): the GM's frame limit (`fedmesh gm --max-frame-bytes`).
   * Bigger reports are refused with 413; also the worker API's body limit. Default MAX_REPORT_BYTES (1 MiB).
   */
  maxReportBytes?: number;
  /** Most reports waiting for the GM in total (507 beyond). Default MAX_OUTBOX_REPORTS (10 000). */
  maxOutboxReports?: number;
  /** Most bytes of status JSON waiting in total (507 beyond); at least `maxReportBytes`. Default MAX_OUTBOX_BYTES (64 MiB). */
  maxOutboxBytes?: number;
  /** Most reports waiting for one object (429 beyond); coalesced kinds count once. Default MAX_OUTBOX_REPORTS_PER_OBJECT (256). */
  maxOutboxReportsPerObject?: number;
  /** Dead letters kept, newest first. Default MAX_DEAD_LETTERS (1000). */
  maxDeadLetters?: number;
  /** Where the node's `/` is mounted (Sedna's ROOTFS_MOUNT_DIR): local dataset URLs resolve under it. Default DEFAULT_ROOTFS (`/rootfs`). */
  rootfs?: string;
  /** Storage credentials, `<dir>/<namespace>/<secret>/<KEY>` (docs/lc.md). Default undefined: s3:// datasets cannot be read. */
  credentialsDir?: string;
  /** Dataset index files are re-read this often (ms), besides on change. Default DATASET_PERIOD_MS (60 s, Sedna's). */
  datasetPeriodMs?: number;
}

export interface LcComponents {
  log: Logger;
  /** Overrides the store (tests); else SQLite in `stateDir` or memory. */
  store?: LcStore;
  dial?: Dialer;
  observer?: LinkObserver;
  /** Overrides the fallback built from `LcInit.fallback` (tests, a stub). */
  fallback?: FallbackRunner & { kick?(): void; status?(): FallbackStatus };
  /** Bearer token source overriding `tokenFile` (in-process LCs). */
  token?: () => string | undefined;
  /** Managers replacing MANAGER_FACTORIES' for some kinds (tests). */
  managers?: Partial<Record<SednaKind, ManagerFactory>>;
}

/** A status report from this node (the worker API, or the LC's own monitors). */
export interface LcReport {
  kind: Kind;
  namespace: string;
  name: string;
  status: Record<string, unknown>;
  /** Default now. */
  reportedAt?: string;
}

/** The link's state plus what waits in the store. */
export interface LcStatus extends LinkStatus {
  /** Reports waiting for an ack, and their status JSON bytes. */
  outboxReports: number;
  outboxBytes: number;
  /** Reports set aside for good (listed by `GET /fedmesh/dead-letters`). */
  deadLetters: number;
  /** The path serving this LC now, since when (ISO), switches between working paths, GM paths down. */
  path: ActivePath;
  pathSince: string;
  pathSwitches: number;
  pathsDown: GmPathName[];
  /** The fallback's own status, when one is configured. */
  fallback?: FallbackStatus;
}

export interface Lc {
  /** Runs the link and the HTTP server until `signal` aborts, then closes the store. */
  start(signal: AbortSignal): Promise<void>;
  /**
   * Durably enqueues a report (coalesced for kinds where only the latest status matters) and sends
   * it when possible. Throws ReportRefusedError, storing nothing, for a report the GM would refuse
   * (ERR_REPORT_INVALID, ERR_REPORT_TOO_LARGE) or one the outbox has no room for (ERR_OBJECT_BACKLOG,
   * ERR_OUTBOX_FULL).
   */
  report(r: LcReport): OutboxEntry;
  readonly store: LcStore;
  status(): LcStatus;
  /** Bound HTTP address once listening. */
  httpAddress(): string | undefined;
}
