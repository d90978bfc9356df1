/** Outbox accounting both store implementations share, so they count and refuse alike. */
import { ReportRefusedError } from '../errors.ts';
import type { OutboxLimits } from './types.ts';

/** What the outbox holds if the report is admitted. */
export interface OutboxAfter {
  /** Reports in the outbox after the write (replaced coalesced reports no longer count). */
  reports: number;
  bytes: number;
  /** Reports of the report's object after the write, itself included. */
  objectReports: number;
}

/** Throws ReportRefusedError if `after` crosses a limit; the per-object limit is checked first (the narrower answer). */
export function checkOutboxLimits(limits: OutboxLimits, after: OutboxAfter, object: string): void {
  if (after.objectReports > limits.maxReportsPerObject) {
    throw new ReportRefusedError(
      'ERR_OBJECT_BACKLOG',
      `${object} already has ${limits.maxReportsPerObject} reports waiting for the GM: retry later`,
    );
  }
  if (after.reports > limits.maxReports || after.bytes > limits.maxBytes) {
    throw new ReportRefusedError(
      'ERR_OUTBOX_FULL',
      `the outbox is full (at most ${limits.maxReports} reports and ${limits.maxBytes} bytes wait for the GM): retry later`,
    );
  }
}

/** How a report is counted against `maxBytes`: the UTF-8 bytes of its status JSON. */
export function statusBytes(json: string): number {
  return Buffer.byteLength(json, 'utf8');
}
