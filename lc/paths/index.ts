/**
 * lc/paths: which way the LC reaches the cloud — the configured GM URLs, the mesh tunnel, then the
 * list-watch fallback — with a health check and backoff per path, probes of the better paths while
 * on a worse one, and the switches visible in logs, metrics and status. README.md, docs/lc.md.
 */
export { createPathManager } from './manager.ts';
export type {
  ActivePath,
  FallbackRunner,
  GmPathInit,
  GmPathName,
  PathManager,
  PathManagerComponents,
  PathManagerInit,
  PathName,
  PathStatus,
} from './types.ts';
