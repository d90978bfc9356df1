/**
 * WebSocket close codes the hub and the LC use, each with the reason text sent beside it
 * (reasons stay ASCII and under the 123-byte limit of a close frame). 4xxx codes mirror the HTTP
 * status with the same meaning so they read at a glance in logs.
 */
import type { WireError } from './errors.ts';

/** One close code and the reason sent with it. */
export interface CloseSpec {
  readonly code: number;
  readonly reason: string;
}

export const CLOSE = {
  /** Orderly end requested by either side; reconnect only if there is still work. */
  NORMAL: { code: 1000, reason: 'normal closure' },
  /** The replica is shutting down (SIGTERM); reconnect at once, to any replica. */
  GOING_AWAY: { code: 1001, reason: 'replica shutting down' },
  /** Sent by the ws library itself when a frame exceeds its maxPayload; listed so logs can be read. */
  MESSAGE_TOO_BIG: { code: 1009, reason: 'message too big' },
  /** An unexpected failure on our side, not the peer's fault; reconnect with backoff. */
  INTERNAL_ERROR: { code: 1011, reason: 'internal error' },
  /** The peer sent a frame that failed to decode (bad JSON, schema, kind, op or direction). */
  MALFORMED: { code: 4400, reason: 'malformed frame' },
  /** The upgrade carried no valid credentials; the LC backs off before retrying. */
  UNAUTHENTICATED: { code: 4401, reason: 'unauthenticated' },
  /** Authenticated but not allowed, e.g. hello.node differs from the node the credentials name. */
  FORBIDDEN: { code: 4403, reason: 'forbidden' },
  /** No frame arrived within the heartbeat timeout, or a ping went unanswered past its deadline. */
  HEARTBEAT_TIMEOUT: { code: 4408, reason: 'heartbeat timeout' },
  /** A newer connection of the same node took over; the LC should back off, not fight for the slot. */
  REPLACED: { code: 4409, reason: 'replaced by a newer connection of the same node' },
  /** A frame passed the transport limit but exceeded the decoder's maxBytes. */
  FRAME_TOO_LARGE: { code: 4413, reason: 'frame too large' },
  /** hello.lcVersion (or the negotiated subprotocol) is one this GM no longer serves; upgrade the LC. */
  UNSUPPORTED_VERSION: { code: 4426, reason: 'unsupported protocol version' },
  /** The peer sent flow-controlled frames beyond the credit it was granted. */
  CREDIT_EXCEEDED: { code: 4429, reason: 'credit exceeded' },
  /** The replica cannot serve yet (caches not synced, overloaded); try again or another replica. */
  NOT_READY: { code: 4503, reason: 'replica not ready' },
} as const satisfies Record<string, CloseSpec>;

export type CloseName = keyof typeof CLOSE;

/** The close a decode failure calls for: oversize frames get 4413, everything else 4400. */
export function closeForWireError(err: WireError): CloseSpec {
  return err.code === 'ERR_FRAME_TOO_LARGE' ? CLOSE.FRAME_TOO_LARGE : CLOSE.MALFORMED;
}
