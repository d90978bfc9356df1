/**
 * fedmesh v1 codec: JSON text frames discriminated by `type` (PROTOCOL.md). Pure functions; the
 * hub and the LC client own sockets, sequence state and timers.
 */
import { type TSchema, Type } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { WireError } from './errors.ts';
import {
  CreditFrameSchema,
  DeleteFrameSchema,
  type FedmeshDownstreamFrame,
  type FedmeshFrame,
  type FedmeshUpstreamFrame,
  HelloFrameSchema,
  NackFrameSchema,
  OBJECT_OPS,
  ObjectFrameSchema,
  PingFrameSchema,
  PongFrameSchema,
  ReportAckFrameSchema,
  ReportFrameSchema,
  ResyncRequestFrameSchema,
  SeqAckFrameSchema,
  SyncBeginFrameSchema,
  SyncEndFrameSchema,
  UpsertFrameSchema,
  WelcomeFrameSchema,
} from './fedmesh-schema.ts';
import {
  checkSchema,
  clip,
  type DecodeOptions,
  type Direction,
  frameText,
  isPlainObject,
  parseJsonObject,
  plainJson,
} from './json.ts';
import { isKind } from './kinds.ts';

/** Options of `decodeFedmeshFrame`: the size limit and which way the frame travelled. */
export interface FedmeshDecodeOptions extends DecodeOptions {
  /** `upstream` on the GM (frames from an LC), `downstream` on the LC (frames from a GM). */
  direction: Direction;
}

const compile = (schema: TSchema): Validator => Compile(schema);
const up = compile(SeqAckFrameSchema);
const down = compile(ReportAckFrameSchema);
const anyAck = compile(Type.Union([SeqAckFrameSchema, ReportAckFrameSchema]));
const objectOps: ReadonlySet<string> = new Set(OBJECT_OPS);

// One validator per (direction, type) so schema errors name the field, not "must match anyOf".
const upstream = new Map<string, Validator>([
  ['hello', compile(HelloFrameSchema)],
  ['ack', up],
  ['report', compile(ReportFrameSchema)],
  ['ping', compile(PingFrameSchema)],
  ['pong', compile(PongFrameSchema)],
  ['resync-request', compile(ResyncRequestFrameSchema)],
  ['credit', compile(CreditFrameSchema)],
]);
const downstream = new Map<string, Validator>([
  ['welcome', compile(WelcomeFrameSchema)],
  ['object', compile(ObjectFrameSchema)],
  ['sync-begin', compile(SyncBeginFrameSchema)],
  ['sync-end', compile(SyncEndFrameSchema)],
  ['ack', down],
  ['nack', compile(NackFrameSchema)],
  ['ping', upstream.get('ping') as Validator],
  ['pong', upstream.get('pong') as Validator],
  ['credit', upstream.get('credit') as Validator],
]);
const upsert = compile(UpsertFrameSchema);
const del = compile(DeleteFrameSchema);

/**
 * Decodes one fedmesh frame received from the peer. Throws only WireError for anything a peer
 * could send: the checks run size → JSON → type → direction → kind/op → schema → cross-field rules.
 */
export function decodeFedmeshFrame(
  input: string | Uint8Array,
  opts: DecodeOptions & { direction: 'upstream' },
): FedmeshUpstreamFrame;
export function decodeFedmeshFrame(
  input: string | Uint8Array,
  opts: DecodeOptions & { direction: 'downstream' },
): FedmeshDownstreamFrame;
export function decodeFedmeshFrame(input: string | Uint8Array, opts: FedmeshDecodeOptions): FedmeshFrame;
export function decodeFedmeshFrame(input: string | Uint8Array, opts: FedmeshDecodeOptions): FedmeshFrame {
  const value = parseJsonObject(frameText(input, opts));
  const type = value.type;
  if (typeof type !== 'string') throw new WireError('ERR_SCHEMA', 'invalid frame at /type: must be a string');
  if (!upstream.has(type) && !downstream.has(type)) {
    throw new WireError('ERR_UNKNOWN_FRAME_TYPE', `unknown frame type "${clip(type)}"`);
  }
  const validator = (opts.direction === 'upstream' ? upstream : downstream).get(type);
  // `ack` exists both ways with different bodies; one shaped for the other way is a direction error.
  const wrongAck =
    type === 'ack' && !validator?.Check(value) && (opts.direction === 'upstream' ? down : up).Check(value);
  if (validator === undefined || wrongAck) {
    throw new WireError('ERR_DIRECTION', `"${type}" frames are not sent ${opts.direction}`);
  }
  if ((type === 'object' || type === 'report') && typeof value.kind === 'string' && !isKind(value.kind)) {
    throw new WireError('ERR_UNKNOWN_KIND', `unknown kind "${clip(value.kind)}"`);
  }
  if (type === 'object' && typeof value.op === 'string' && !objectOps.has(value.op)) {
    throw new WireError('ERR_UNKNOWN_OPERATION', `unknown op "${clip(value.op)}"`);
  }
  const frame = checkSchema<FedmeshFrame>(pick(validator, value), value, `${type} frame`);
  checkRules(frame);
  return frame;
}

// For objects, validate against the variant the op selects so the error says what is wrong with it.
function pick(validator: Validator, value: Record<string, unknown>): Validator {
  if (value.type !== 'object') return validator;
  return value.op === 'delete' ? del : upsert;
}

/** Cross-field rules JSON Schema cannot say clearly; a violation is ERR_SCHEMA like any other. */
function checkRules(frame: FedmeshFrame): void {
  if (frame.type === 'hello' && frame.stream === null && frame.lastDownstreamSeq !== 0) {
    throw new WireError('ERR_SCHEMA', 'invalid hello frame: lastDownstreamSeq must be 0 without a stream');
  }
  if (frame.type === 'welcome' && frame.heartbeatTimeoutMs <= frame.heartbeatIntervalMs) {
    throw new WireError('ERR_SCHEMA', 'invalid welcome frame: heartbeatTimeoutMs must exceed heartbeatIntervalMs');
  }
}

/**
 * Encodes a frame as one JSON text. Validates first (against either direction, since both ends
 * encode) and throws WireError(ERR_SCHEMA) rather than send something the peer would reject.
 */
export function encodeFedmeshFrame(frame: FedmeshFrame): string {
  if (!isPlainObject(frame)) throw new WireError('ERR_SCHEMA', 'invalid frame: not an object');
  const type = String(frame.type);
  const validator = type === 'ack' ? anyAck : (upstream.get(type) ?? downstream.get(type));
  if (validator === undefined) throw new WireError('ERR_SCHEMA', `invalid frame: unknown type "${clip(type)}"`);
  checkRules(checkSchema<FedmeshFrame>(pick(validator, frame), frame, `${type} frame`));
  return plainJson(frame);
}
