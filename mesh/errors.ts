/**
 * Named mesh errors with stable codes. Tests and callers branch on `code`, never on the message.
 */
import { FedmeshError } from '../common/errors.ts';

/** Every code a mesh error can carry. */
export const MESH_ERROR_CODES = [
  /** The remote side does not share our pre-shared key (or is not a fedmesh peer at all). */
  'ERR_PSK_MISMATCH',
  /** The PSK file is missing or not in the v1 swarm-key format. */
  'ERR_PSK_FILE',
  /** A connection ran on a previous PSK whose rotation window ended: closed (tunnels resume). */
  'ERR_PSK_RETIRED',
  /** The identity key file exists but cannot be read or decoded. */
  'ERR_IDENTITY_FILE',
  /** A node record failed its schema, size or signature check. */
  'ERR_RECORD_INVALID',
  /** A verified record claims a node name already bound to another peer ID. */
  'ERR_NAME_CONFLICT',
  /** No record (hence no peer ID) is known for a node name. */
  'ERR_UNKNOWN_NODE',
  /** The node could not be reached on any path (direct or relayed) before the deadline. */
  'ERR_UNREACHABLE',
  /** The responder refused a tunnel: malformed header, target not allowed, dial failed, ... */
  'ERR_TUNNEL_REFUSED',
  /** A tunnel session could not resume on any path before its resume deadline. */
  'ERR_SESSION_LOST',
  /** The peer broke the session protocol (bad frame, offsets out of order). */
  'ERR_SESSION_PROTOCOL',
  /** The other end of the tunnel aborted it (its target connection failed or its application gave up). */
  'ERR_TUNNEL_RESET',
  /** No node advertising the service was found, or none of them accepted a tunnel. */
  'ERR_NO_PROVIDER',
] as const;

export type MeshErrorCode = (typeof MESH_ERROR_CODES)[number];

/** Any mesh failure; `code` says which. */
export class MeshError extends FedmeshError {
  declare readonly code: MeshErrorCode;
  constructor(code: MeshErrorCode, message: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'MeshError';
  }
}

/** The reasons a tunnel responder gives on the wire (and the initiator surfaces as `reason`). */
export const REFUSAL_REASONS = [
  'malformed',
  'oversized',
  'unknown-node',
  'target-not-allowed',
  'dial-failed',
  'unknown-session',
  'busy',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A tunnel request the responder refused; `reason` is the responder's stable reason. */
export class TunnelRefusedError extends MeshError {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, message: string, options?: ErrorOptions) {
    super('ERR_TUNNEL_REFUSED', message, options);
    this.name = 'TunnelRefusedError';
    this.reason = reason;
  }
}

/** True for libp2p's "the encrypted handshake failed" errors, which is how a PSK mismatch surfaces. */
export function looksLikePskMismatch(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    if (e.name === 'EncryptionFailedError' || e.name === 'InvalidCryptoExchangeError') return true;
    // AggregateError from a multi-address dial: any member counts.
    if (e instanceof AggregateError && e.errors.some((x) => looksLikePskMismatch(x))) return true;
    e = e.cause;
  }
  return false;
}
