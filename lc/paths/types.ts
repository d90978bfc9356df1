/** The path manager's public types (lc/paths/index.ts re-exports them). */
import type { Logger } from '../../common/log.ts';
import type { Link } from '../link.ts';

/** The GM paths, best first: the configured URLs (VIP, Service, replicas), then the mesh tunnel. */
export type GmPathName = 'direct' | 'mesh';
/** Every path; `fallback` is the list-watch through the edge API. */
export type PathName = GmPathName | 'fallback';
/** What serves the LC now; `none` between paths or with everything cut. */
export type ActivePath = PathName | 'none';

export interface GmPathInit {
  name: GmPathName;
  /** ws:// URLs of this path, dialled in turn (from a random start). At least one. */
  urls: string[];
}

/**
 * The last path (lc/fallback implements it): `run` works until its signal aborts and resolves once
 * fully stopped; it is started only while no GM path is up and stopped once a GM session is welcomed, before anything of it is applied.
 */
export interface FallbackRunner {
  run(signal: AbortSignal): Promise<void>;
}

export interface PathManagerInit {
  /** GM paths, best first; a path with no URLs is left out by the caller. */
  paths: GmPathInit[];
  /** While on a worse path, each better one is probed this often (ms; waits of 70–90 % of it between probes, each with a 1 s timeout). Default PATH_PROBE_PERIOD_MS (5 s). */
  probePeriodMs?: number;
  /** With more than one path, every upgrade must complete within this (ms): a dial stuck on a cut path ends before the next probe. Default PATH_PROBE_TIMEOUT_MS (1 s). */
  probeTimeoutMs?: number;
  /** A dial unanswered this long (ms) counts the path as down for the worse ones (it goes on, as a probe). Default PATH_DIAL_GRACE_MS (1 s). */
  dialGraceMs?: number;
  /** Per-path backoff after a GM's verdict (ms). Defaults 250 / 15 000; capped at the probe period with more than one path. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface PathManagerComponents {
  link: Pick<Link, 'open' | 'session'>;
  /** Undefined: no fallback; with every GM path down the LC serves from its store. */
  fallback?: FallbackRunner;
  log: Logger;
  /** Jitter source (tests). Default Math.random. */
  random?: () => number;
  /** Waits between attempts; injected by tests to see the delays. Default common/async sleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The active path changed (every change, `none` included): metrics. */
  changed?(from: ActivePath, to: ActivePath): void;
  /** The LC moved from one working path to another (`none` in between is not counted). */
  switched?(from: ActivePath, to: ActivePath): void;
}

export interface PathStatus {
  /** What serves the LC now. */
  path: ActivePath;
  /** Since when (ISO time). */
  since: string;
  /** Moves from one working path to another since start. */
  switches: number;
  /** GM paths whose last attempt failed or went silent. */
  down: GmPathName[];
}

export interface PathManager {
  /** Runs every path's attempts and the fallback until `signal` aborts; resolves once all stopped. */
  start(signal: AbortSignal): Promise<void>;
  status(): PathStatus;
}
