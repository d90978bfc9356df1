/**
 * common/wire: the GM↔LC protocol codecs, pure and without networking. Two dialects share one
 * endpoint: Sedna v1 (stock Sedna LCs, no subprotocol) and fedmesh v1 (`Sec-WebSocket-Protocol:
 * fedmesh.v1`). See README.md and PROTOCOL.md.
 */

export { CLOSE, type CloseName, type CloseSpec, closeForWireError } from './close-codes.ts';
export { DEFAULT_MAX_FRAME_BYTES, MAX_CREDIT_GRANT, MAX_JSON_DEPTH } from './constants.ts';
export { isWireError, WIRE_ERROR_CODES, WireError, type WireErrorCode } from './errors.ts';
export { decodeFedmeshFrame, encodeFedmeshFrame, type FedmeshDecodeOptions } from './fedmesh.ts';
export {
  type CreditFrame,
  CreditFrameSchema,
  type DeleteFrame,
  DeleteFrameSchema,
  FEDMESH_SUBPROTOCOL,
  type FedmeshDownstreamFrame,
  FedmeshDownstreamFrameSchema,
  type FedmeshFrame,
  type FedmeshFrameType,
  type FedmeshUpstreamFrame,
  FedmeshUpstreamFrameSchema,
  type HelloFrame,
  HelloFrameSchema,
  type NackFrame,
  NackFrameSchema,
  type ObjectFrame,
  ObjectFrameSchema,
  type PingFrame,
  PingFrameSchema,
  type PongFrame,
  PongFrameSchema,
  type ReportAckFrame,
  ReportAckFrameSchema,
  type ReportFrame,
  ReportFrameSchema,
  type ReportId,
  ReportIdSchema,
  type ResyncRequestFrame,
  ResyncRequestFrameSchema,
  type SeqAckFrame,
  SeqAckFrameSchema,
  type SyncBeginFrame,
  SyncBeginFrameSchema,
  type SyncEndFrame,
  SyncEndFrameSchema,
  type UpsertFrame,
  UpsertFrameSchema,
  type WelcomeFrame,
  WelcomeFrameSchema,
} from './fedmesh-schema.ts';
export { checkDepth, type DecodeOptions, type Direction } from './json.ts';
export { KINDS, type Kind, kindOfSedna, SEDNA_KINDS, type SednaKind, sednaKindOf } from './kinds.ts';
export {
  decodeSednaDownstream,
  decodeSednaFrame,
  decodeSednaUpstream,
  encodeSednaFrame,
  SEDNA_HELLO_TEXT,
} from './sedna.ts';
export {
  SEDNA_DOWNSTREAM_OPERATIONS,
  SEDNA_UPSTREAM_OPERATIONS,
  type SednaDownstreamMessage,
  SednaDownstreamMessageSchema,
  type SednaDownstreamOperation,
  type SednaFrame,
  SednaFrameSchema,
  type SednaHello,
  SednaHelloSchema,
  type SednaMessage,
  type SednaUpstreamFrame,
  SednaUpstreamFrameSchema,
  type SednaUpstreamMessage,
  SednaUpstreamMessageSchema,
  type SednaUpstreamOperation,
} from './sedna-schema.ts';
