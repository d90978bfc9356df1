import { ConfigError } from '../../common/errors.ts';
import { JITTER_FACTOR } from './constants.ts';

/**
 * client-go's timing rules: leaseDuration > renewDeadline > retryPeriod × 1.2 (the jitter), all
 * positive. The lease duration is published as whole seconds (`leaseDurationSeconds` is an integer).
 */
export function validateTiming(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  for (const [name, v] of [
    ['lease-duration', leaseDurationMs],
    ['renew-deadline', renewDeadlineMs],
    ['retry-period', retryPeriodMs],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) throw new ConfigError(`${name} must be positive, got ${v} ms`);
  }
  if (leaseDurationMs % 1000 !== 0) {
    throw new ConfigError(
      `lease-duration must be whole seconds (the Lease stores leaseDurationSeconds), got ${leaseDurationMs} ms`,
    );
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new ConfigError(
      `lease-duration (${leaseDurationMs} ms) must be greater than renew-deadline (${renewDeadlineMs} ms)`,
    );
  }
  if (renewDeadlineMs <= retryPeriodMs * JITTER_FACTOR) {
    throw new ConfigError(
      `renew-deadline (${renewDeadlineMs} ms) must be greater than retry-period × ${JITTER_FACTOR} (${retryPeriodMs * JITTER_FACTOR} ms)`,
    );
  }
}
