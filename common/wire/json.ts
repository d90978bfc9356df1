/**
 * Shared steps of both decoders: size limit, UTF-8, JSON, first schema error. Internal to common/wire.
 */
import type { Validator } from 'typebox/compile';
import { ConfigError } from '../errors.ts';
import { MAX_JSON_DEPTH } from './constants.ts';
import { WireError, type WireErrorCode } from './errors.ts';

/** Which way a frame travels: `upstream` is LC→GM, `downstream` is GM→LC. */
export type Direction = 'upstream' | 'downstream';

/** Options every decoder takes. */
export interface DecodeOptions {
  /** Largest frame accepted, in UTF-8 bytes. Required: the hub sizes it per dialect. */
  maxBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Checks the size before any parsing so an oversize frame is never parsed, then returns the text.
 * `maxBytes` is a programming input, not peer input, so a bad value is a ConfigError.
 */
export function frameText(input: string | Uint8Array, opts: DecodeOptions): string {
  const { maxBytes } = opts;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new ConfigError(`maxBytes must be a positive integer, got ${String(maxBytes)}`);
  }
  if (typeof input === 'string') {
    // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap length test can only reject early.
    if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) throw tooLarge(maxBytes);
    return input;
  }
  if (input.byteLength > maxBytes) throw tooLarge(maxBytes);
  try {
    return utf8.decode(input);
  } catch (err) {
    throw new WireError('ERR_MALFORMED_JSON', 'frame is not valid UTF-8', { cause: err });
  }
}

function tooLarge(maxBytes: number): WireError {
  return new WireError('ERR_FRAME_TOO_LARGE', `frame exceeds ${maxBytes} bytes`);
}

/** Parses a frame that must be one JSON object (surrounding whitespace, e.g. Go's trailing "\n", is fine). */
export function parseJsonObject(text: string): Record<string, unknown> {
  checkDepth(text, 'ERR_MALFORMED_JSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new WireError('ERR_MALFORMED_JSON', 'frame is not valid JSON', { cause: err });
  }
  if (!isPlainObject(value)) throw new WireError('ERR_MALFORMED_JSON', 'frame is not a JSON object');
  return value;
}

// Peer-controlled text in messages is clipped so a hostile frame cannot flood the logs.
export function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

const [BACKSLASH, QUOTE, OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x5c, 0x22, 0x5b, 0x5d, 0x7b, 0x7d];

/**
 * Rejects nesting deeper than MAX_JSON_DEPTH before JSON.parse. Counts brackets outside strings;
 * on malformed text the count may be off, but JSON.parse rejects that text anyway.
 */
export function checkDepth(text: string, code: WireErrorCode): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) {
        i++; // the escaped character cannot end the string
      } else if (c === QUOTE) {
        inString = false;
      }
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) throw new WireError(code, `JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates with a compiled schema; on failure names the first offending path (never the value). */
export function checkSchema<T>(validator: Validator, value: unknown, what: string): T {
  if (validator.Check(value)) return value as T;
  const first = validator.Errors(value)[0];
  const where = first === undefined ? '' : ` at ${first.instancePath || '/'}: ${first.message}`;
  throw new WireError('ERR_SCHEMA', `invalid ${what}${where}`);
}

// Characters Go's encoding/json escapes that JSON.stringify writes raw: HTML-safe escaping and the
// JS line separators. (Lone surrogates stay as JSON.stringify escapes them: Go would write U+FFFD,
// but no valid name contains one and keeping them makes content round-trip exactly.)
const GO_ESCAPES = /[<>&\u2028\u2029]/g;

function goEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * JSON text as Go's `json.Marshal` writes it for the same value and key order, so our frames are
 * byte-identical to Sedna's. Throws WireError(ERR_SCHEMA) for values JSON cannot represent.
 */
export function goJson(value: unknown): string {
  return plainJson(value).replace(GO_ESCAPES, goEscape);
}

/** JSON.stringify with the codecs' error discipline: cycles, BigInt and `undefined` become ERR_SCHEMA. */
export function plainJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new WireError('ERR_SCHEMA', 'value is not JSON-serialisable', { cause: err });
  }
  if (text === undefined) throw new WireError('ERR_SCHEMA', 'value is not JSON-serialisable');
  return text;
}
