/**
 * Named edge-health errors with stable codes. Callers and tests branch on `code`, never on the message.
 */
import { FedmeshError } from '../../common/errors.ts';

/** Every reason a received view is refused. */
export const VIEW_REJECTION_CODES = [
  /** Not an envelope, not canonical JSON, too large, or fails the view schema. */
  'ERR_VIEW_MALFORMED',
  /** The signature does not verify under the key the view names. */
  'ERR_VIEW_SIGNATURE',
  /** No key is pinned for the voter's name (the directory has never bound it). */
  'ERR_VIEW_UNKNOWN_VOTER',
  /** Validly signed, but by a key other than the one pinned for the voter's name. */
  'ERR_VIEW_KEY_MISMATCH',
  /** (epoch, seq) not newer than the last view accepted from this voter. */
  'ERR_VIEW_REPLAY',
  /** The view's signing time is further from our wall clock than the allowed skew. */
  'ERR_VIEW_SKEW',
  /** The voter is not a member of the zone the view is judged in, or names another zone. */
  'ERR_VOTER_OUTSIDE_ZONE',
  /** The view has a verdict on a node outside the zone. */
  'ERR_SUBJECT_OUTSIDE_ZONE',
] as const;
export type ViewRejectionCode = (typeof VIEW_REJECTION_CODES)[number];

/** A received view was refused; nothing it says was counted. */
export class ViewRejectedError extends FedmeshError {
  declare readonly code: ViewRejectionCode;
  /** The voter the view claims to be from, when it could be read. */
  readonly voter: string | undefined;
  constructor(code: ViewRejectionCode, message: string, voter?: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'ViewRejectedError';
    this.voter = voter;
  }
}
