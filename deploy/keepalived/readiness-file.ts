import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/log.ts';
import { DEFAULT_READINESS_INTERVAL_MS } from './constants.ts';
import { KeepalivedOptionError } from './errors.ts';

/** Options of {@link runReadinessFileLoop}. */
export interface ReadinessFileLoopInit {
  /** The GM's readiness URL, e.g. `http://127.0.0.1:8080/readyz`; 2xx means ready. */
  url: string;
  /** Absolute path of keepalived's `track_file` (the `file` readiness check's `path`). */
  path: string;
  /** Milliseconds between the starts of two polls; integer ≥ 10. Default 200. */
  intervalMs?: number;
  /**
   * Milliseconds one poll may take before it counts as not ready; integer ≥ 1. Default
   * `intervalMs`, so a hung GM is reported within about two ticks.
   */
  fetchTimeoutMs?: number;
  /** Stops the loop; the promise resolves after the final write. Required. */
  signal: AbortSignal;
  /** Transitions are logged at info (each tick is not). Default: silent. */
  log?: Logger;
}

const READY = '0\n';
const NOT_READY = '1\n';
const MIN_INTERVAL_MS = 10;

function validate(init: ReadinessFileLoopInit): { intervalMs: number; fetchTimeoutMs: number } {
  if (!URL.canParse(init.url) || !/^https?:$/.test(new URL(init.url).protocol)) {
    throw new KeepalivedOptionError('url', 'must be an absolute http(s) URL');
  }
  if (!isAbsolute(init.path) || init.path.endsWith('/')) {
    throw new KeepalivedOptionError('path', 'must be an absolute file path');
  }
  const intervalMs = init.intervalMs ?? DEFAULT_READINESS_INTERVAL_MS;
  if (!Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw new KeepalivedOptionError('intervalMs', `must be an integer ≥ ${MIN_INTERVAL_MS}`);
  }
  const fetchTimeoutMs = init.fetchTimeoutMs ?? intervalMs;
  if (!Number.isInteger(fetchTimeoutMs) || fetchTimeoutMs < 1) {
    throw new KeepalivedOptionError('fetchTimeoutMs', 'must be an integer ≥ 1');
  }
  return { intervalMs, fetchTimeoutMs };
}

/** One poll: true only for a 2xx answer within the deadline. Redirects are not followed. */
async function probe(url: string, signal: AbortSignal, log: Logger | undefined): Promise<boolean> {
  try {
    const res = await fetch(url, { signal, redirect: 'manual', cache: 'no-store' });
    // Release the connection; the body is not needed.
    await res.body?.cancel();
    return res.ok;
  } catch (err) {
    // Refused, reset, timed out or aborted: all mean "not ready"; the caller logs transitions.
    log?.debug({ err, url }, 'readiness probe failed');
    return false;
  }
}

/**
 * Polls `url` every `intervalMs` and writes `0` (ready) or `1` (not ready) to `path` on every
 * tick, via a temporary file and rename so keepalived never reads a partial value. Writing on
 * every tick, not only on change, matters: keepalived's `init_file 1 overwrite` resets the file
 * to 1 when it (re)starts, and a write-on-change loop then left it in FAULT for good.
 *
 * Resolves when `signal` aborts, after writing `1` one last time: once nothing polls the GM, the
 * file must not keep vouching for it. Rejects if the file cannot be written (the supervisor should
 * restart us, as keepalived would otherwise act on a stale value).
 */
export async function runReadinessFileLoop(init: ReadinessFileLoopInit): Promise<void> {
  const { intervalMs, fetchTimeoutMs } = validate(init);
  const { signal, log } = init;
  // Same directory as the target so rename is atomic; a dotfile keeps it out of the way.
  const tmp = join(dirname(init.path), `.${basename(init.path)}.${process.pid}.tmp`);
  const write = async (ready: boolean): Promise<void> => {
    await writeFile(tmp, ready ? READY : NOT_READY);
    await rename(tmp, init.path);
  };
  let last: boolean | undefined;
  try {
    while (!signal.aborted) {
      const started = performance.now();
      const ready = await probe(init.url, AbortSignal.any([signal, AbortSignal.timeout(fetchTimeoutMs)]), log);
      if (signal.aborted) break;
      await write(ready);
      if (ready !== last) log?.info({ ready, url: init.url, path: init.path }, 'readiness changed');
      last = ready;
      const wait = intervalMs - (performance.now() - started);
      if (wait > 0) {
        await sleep(wait, undefined, { signal }).catch((err: unknown) => {
          if (!signal.aborted) throw err;
        });
      }
    }
  } finally {
    // Best effort on the way out, also after a write error; do not mask the original error.
    await write(false).catch((err: unknown) => log?.warn({ err }, 'final readiness write failed'));
    await rm(tmp, { force: true });
  }
}
