/**
 * The one error class both wire codecs throw. Callers branch on `code` (stable), never on the message.
 */
import { FedmeshError } from '../errors.ts';

/** Every code a codec can throw. The hub maps them to close codes with `closeForWireError`. */
export const WIRE_ERROR_CODES = [
  /** The frame is longer than `maxBytes` (UTF-8 bytes). Checked before anything is parsed. */
  'ERR_FRAME_TOO_LARGE',
  /** Not valid UTF-8, not valid JSON, or JSON that is not an object. */
  'ERR_MALFORMED_JSON',
  /** Valid JSON whose shape does not match the frame schema (missing, mistyped or unexpected fields). */
  'ERR_SCHEMA',
  /** Sedna `content` is not canonical standard padded base64. */
  'ERR_BAD_BASE64',
  /** Sedna `content` decodes to bytes that are not UTF-8 JSON. */
  'ERR_BAD_CONTENT_JSON',
  /** A resource kind outside the supported set. */
  'ERR_UNKNOWN_KIND',
  /** A Sedna operation or fedmesh object `op` outside the protocol. */
  'ERR_UNKNOWN_OPERATION',
  /** A fedmesh frame `type` outside the protocol. */
  'ERR_UNKNOWN_FRAME_TYPE',
  /** A known frame or operation sent the wrong way (e.g. Sedna `insert` from an LC). */
  'ERR_DIRECTION',
] as const;

export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

/** A frame was rejected while decoding, or a value could not be encoded. Nothing was applied. */
export class WireError extends FedmeshError {
  declare readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'WireError';
  }
}

/** Type guard for callers that catch around a decode. */
export function isWireError(err: unknown): err is WireError {
  return err instanceof WireError;
}
