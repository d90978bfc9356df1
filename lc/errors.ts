/** Errors of the LC with stable codes; the worker API answers with the status each code maps to. */
import { FedmeshError } from '../common/errors.ts';

/** Why a report was refused before it entered the outbox, and the worker API's HTTP status for it. */
export const REPORT_REFUSALS = {
  /** The report would not pass the GM's decoder (schema, JSON depth): sending it could only fail. */
  ERR_REPORT_INVALID: 400,
  /** Its upstream frame exceeds the GM's frame limit (`maxReportBytes`). */
  ERR_REPORT_TOO_LARGE: 413,
  /** This object already has `maxOutboxReportsPerObject` reports waiting; others still get in. */
  ERR_OBJECT_BACKLOG: 429,
  /** The whole outbox is at its report or byte limit. */
  ERR_OUTBOX_FULL: 507,
} as const;
export type ReportRefusalCode = keyof typeof REPORT_REFUSALS;

/** A report was not enqueued; nothing was stored. `status` is the worker API's answer. */
export class ReportRefusedError extends FedmeshError {
  declare readonly code: ReportRefusalCode;
  readonly status: (typeof REPORT_REFUSALS)[ReportRefusalCode];
  constructor(code: ReportRefusalCode, message: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'ReportRefusedError';
    this.status = REPORT_REFUSALS[code];
  }
}
