/** Small helpers of the agent's counting and logging: refusals are logged at most once per code and interval. */
import type { Logger } from '../../common/log.ts';

/** A refusal is logged at most this often per code; the counter counts every one. */
export const REJECT_LOG_INTERVAL_MS = 10_000;

const frozen = new Map<string, Readonly<Record<string, string>>>();
/** One frozen label set per distinct value (the registry keys series by the object's content). */
export function labelsOf(labels: Record<string, string>): Readonly<Record<string, string>> {
  const key = JSON.stringify(labels);
  let l = frozen.get(key);
  if (!l) {
    l = Object.freeze({ ...labels });
    frozen.set(key, l);
  }
  return l;
}

/** `warn(code, fields)` logs `msg` at most once per `intervalMs` per code, with the number suppressed since. */
export function rateLimitedWarn(
  log: Logger,
  clock: { now(): number },
  intervalMs: number,
  msg: string,
): (code: string, fields: Record<string, unknown>) => void {
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return (code, fields) => {
    const now = clock.now();
    const last = lastLogged.get(code);
    if (last && now - last.at < intervalMs) {
      last.suppressed++;
      return;
    }
    lastLogged.set(code, { at: now, suppressed: 0 });
    log.warn({ code, suppressed: last?.suppressed ?? 0, ...fields }, msg);
  };
}
