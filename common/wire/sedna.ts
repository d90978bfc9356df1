/**
 * Sedna v1 codec: what a stock Sedna GM and LC exchange, byte for byte (see sedna-wire notes).
 * Pure functions; the hub owns sockets, policies and logging.
 */
import { Compile } from 'typebox/compile';
import { WireError } from './errors.ts';
import {
  checkDepth,
  checkSchema,
  clip,
  type DecodeOptions,
  type Direction,
  frameText,
  goJson,
  parseJsonObject,
} from './json.ts';
import { isSednaKind } from './kinds.ts';
import {
  SEDNA_DOWNSTREAM_OPERATIONS,
  SEDNA_UPSTREAM_OPERATIONS,
  type SednaDownstreamMessage,
  type SednaEnvelopeWire,
  SednaEnvelopeWireSchema,
  type SednaFrame,
  SednaFrameSchema,
  SednaHelloWireSchema,
  type SednaUpstreamFrame,
} from './sedna-schema.ts';

const helloWire = Compile(SednaHelloWireSchema);
const envelopeWire = Compile(SednaEnvelopeWireSchema);
const frameValidator = Compile(SednaFrameSchema);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const downstreamOps: ReadonlySet<string> = new Set(SEDNA_DOWNSTREAM_OPERATIONS);
const upstreamOps: ReadonlySet<string> = new Set(SEDNA_UPSTREAM_OPERATIONS);

/** The hello frame exactly as a stock LC's Go encoder writes it. */
export const SEDNA_HELLO_TEXT = '{"namespace":"","resourceKind":"","resourceName":"","operation":""}\n';

/**
 * Decodes a frame of either direction; the direction follows from the operation (`status` is
 * upstream, the rest downstream). Throws only WireError for anything the peer could send.
 */
export function decodeSednaFrame(input: string | Uint8Array, opts: DecodeOptions): SednaFrame {
  return decode(input, opts, undefined);
}

/** Decodes what an LC sends to the GM: the hello or a `status` report. Anything else is ERR_DIRECTION. */
export function decodeSednaUpstream(input: string | Uint8Array, opts: DecodeOptions): SednaUpstreamFrame {
  return decode(input, opts, 'upstream') as SednaUpstreamFrame;
}

/** Decodes what the GM sends to an LC: `insert`, `update` or `delete`. Anything else is ERR_DIRECTION. */
export function decodeSednaDownstream(input: string | Uint8Array, opts: DecodeOptions): SednaDownstreamMessage {
  return decode(input, opts, 'downstream') as SednaDownstreamMessage;
}

function decode(input: string | Uint8Array, opts: DecodeOptions, expect: Direction | undefined): SednaFrame {
  const value = parseJsonObject(frameText(input, opts));
  // The hello is the only frame without the envelope; Go decodes it into an empty message.
  if (!Object.hasOwn(value, 'header') && !Object.hasOwn(value, 'content')) {
    checkSchema(helloWire, value, 'sedna hello');
    if (expect === 'downstream') throw new WireError('ERR_DIRECTION', 'hello is only sent by an LC');
    return { type: 'hello' };
  }
  const env = checkSchema<SednaEnvelopeWire>(envelopeWire, value, 'sedna envelope');
  const { namespace, resourceKind, resourceName, operation } = env.header;
  const direction = directionOf(operation);
  if (expect !== undefined && direction !== expect) {
    throw new WireError('ERR_DIRECTION', `operation "${operation}" is not sent ${expect}`);
  }
  // Stock LCs send the kind in any case (e.g. "Dataset"); the GM always writes lowercase.
  const kind = direction === 'upstream' ? asciiLower(resourceKind) : resourceKind;
  if (!isSednaKind(kind)) throw new WireError('ERR_UNKNOWN_KIND', `unknown resourceKind "${clip(resourceKind)}"`);
  const content = env.content === null ? null : decodeContent(env.content);
  return { type: 'message', header: { namespace, resourceKind: kind, resourceName, operation }, content } as SednaFrame;
}

function directionOf(operation: string): Direction {
  if (upstreamOps.has(operation)) return 'upstream';
  if (downstreamOps.has(operation)) return 'downstream';
  throw new WireError('ERR_UNKNOWN_OPERATION', `unknown operation "${clip(operation)}"`);
}

function decodeContent(b64: string): unknown {
  // Buffer's decoder skips junk, accepts the URL alphabet and missing padding; re-encoding and
  // comparing accepts exactly the canonical standard padded form Go writes.
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64) throw new WireError('ERR_BAD_BASE64', 'content is not canonical base64');
  let json: string;
  try {
    json = utf8.decode(bytes);
  } catch (err) {
    throw new WireError('ERR_BAD_CONTENT_JSON', 'content is not UTF-8', { cause: err });
  }
  checkDepth(json, 'ERR_BAD_CONTENT_JSON');
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new WireError('ERR_BAD_CONTENT_JSON', 'content is not JSON', { cause: err });
  }
}

/**
 * Encodes a frame exactly as Sedna's Go encoder does: header keys in struct order, content as
 * base64 of the JSON document (or `null`), one trailing newline. Throws WireError(ERR_SCHEMA)
 * for an invalid frame (e.g. an upper-case kind, which only LCs may send).
 */
export function encodeSednaFrame(frame: SednaFrame): string {
  checkSchema(frameValidator, frame, 'sedna frame');
  if (frame.type === 'hello') return SEDNA_HELLO_TEXT;
  const h = frame.header;
  const content =
    frame.content === null ? 'null' : `"${Buffer.from(goJson(frame.content), 'utf8').toString('base64')}"`;
  return (
    `{"header":{"namespace":${goJson(h.namespace)},"resourceKind":${goJson(h.resourceKind)},` +
    `"resourceName":${goJson(h.resourceName)},"operation":${goJson(h.operation)}},"content":${content}}\n`
  );
}

// Lowercases A-Z only: Unicode case mapping would let look-alikes (e.g. the Kelvin sign) become ASCII.
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
