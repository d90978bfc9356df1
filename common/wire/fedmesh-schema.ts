/**
 * TypeBox schemas of the fedmesh v1 dialect (see PROTOCOL.md). Every frame is a JSON object with a
 * `type`; unknown keys are rejected because both ends are ours and a new field means a new version.
 */
import { type Static, Type } from 'typebox';
import { MAX_CREDIT_GRANT, MAX_HEARTBEAT_MS, MAX_TEXT_LENGTH, MIN_HEARTBEAT_MS } from './constants.ts';
import { KINDS } from './kinds.ts';
import { NameSchema as Name, NamespaceSchema as Namespace } from './names.ts';

/** The `Sec-WebSocket-Protocol` token an LC offers (and the GM selects) to speak this dialect. */
export const FEDMESH_SUBPROTOCOL = 'fedmesh.v1';

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH });
const Text = Type.String({ maxLength: MAX_TEXT_LENGTH });
/** Sequence numbers start at 1; 0 means "nothing yet". */
const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Credit = Type.Integer({ minimum: 1, maximum: MAX_CREDIT_GRANT });
const Millis = Type.Integer({ minimum: MIN_HEARTBEAT_MS, maximum: MAX_HEARTBEAT_MS });
const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const KindSchema = Type.Enum(KINDS);

/** Identifies one report for ever: the LC's persisted instance id plus its per-instance counter. */
export const ReportIdSchema = Type.Object({ instance: Id, seq: Seq }, strict);
export type ReportId = Static<typeof ReportIdSchema>;

/** LC→GM, first frame. `stream`/`lastDownstreamSeq` say where to resume; `credit` is the initial window. */
export const HelloFrameSchema = Type.Object(
  {
    type: Type.Literal('hello'),
    node: Name,
    lcVersion: Id,
    instance: Id,
    stream: Type.Union([Id, Type.Null()]),
    lastDownstreamSeq: Count,
    credit: Credit,
  },
  strict,
);
export type HelloFrame = Static<typeof HelloFrameSchema>;

/** GM→LC, answer to hello: the stream to follow and whether it resumes or starts with a full sync. */
export const WelcomeFrameSchema = Type.Object(
  {
    type: Type.Literal('welcome'),
    replica: Id,
    stream: Id,
    mode: Type.Enum(['resume', 'resync']),
    nextSeq: Seq,
    heartbeatIntervalMs: Millis,
    heartbeatTimeoutMs: Millis,
    credit: Credit,
  },
  strict,
);
export type WelcomeFrame = Static<typeof WelcomeFrameSchema>;

const objectKey = { type: Type.Literal('object'), seq: Seq, kind: KindSchema, namespace: Namespace, name: Name };

/** GM→LC: create or replace the whole object (plain JSON, never base64). */
export const UpsertFrameSchema = Type.Object({ ...objectKey, op: Type.Literal('upsert'), object: JsonObject }, strict);
/** GM→LC: the object is gone; there is nothing to carry. */
export const DeleteFrameSchema = Type.Object({ ...objectKey, op: Type.Literal('delete') }, strict);
export const ObjectFrameSchema = Type.Union([UpsertFrameSchema, DeleteFrameSchema]);
export type UpsertFrame = Static<typeof UpsertFrameSchema>;
export type DeleteFrame = Static<typeof DeleteFrameSchema>;
export type ObjectFrame = UpsertFrame | DeleteFrame;
export const OBJECT_OPS = ['upsert', 'delete'] as const;

/** GM→LC: the object frames up to the matching sync-end are a complete snapshot. */
export const SyncBeginFrameSchema = Type.Object({ type: Type.Literal('sync-begin'), seq: Seq, syncId: Id }, strict);
export type SyncBeginFrame = Static<typeof SyncBeginFrameSchema>;

/** GM→LC: snapshot complete; `objects` object frames were sent. The LC drops what it did not see. */
export const SyncEndFrameSchema = Type.Object(
  { type: Type.Literal('sync-end'), seq: Seq, syncId: Id, objects: Count },
  strict,
);
export type SyncEndFrame = Static<typeof SyncEndFrameSchema>;

/** LC→GM: every downstream frame up to and including `seq` is applied durably (cumulative). */
export const SeqAckFrameSchema = Type.Object({ type: Type.Literal('ack'), seq: Seq }, strict);
export type SeqAckFrame = Static<typeof SeqAckFrameSchema>;

/** GM→LC: the report was written to the API server; the LC may forget it. */
export const ReportAckFrameSchema = Type.Object({ type: Type.Literal('ack'), reportId: ReportIdSchema }, strict);
export type ReportAckFrame = Static<typeof ReportAckFrameSchema>;

/** LC→GM: the status an LC observed for one object. */
export const ReportFrameSchema = Type.Object(
  {
    type: Type.Literal('report'),
    id: ReportIdSchema,
    kind: KindSchema,
    namespace: Namespace,
    name: Name,
    status: JsonObject,
    reportedAt: Type.String({ format: 'date-time', maxLength: 64 }),
  },
  strict,
);
export type ReportFrame = Static<typeof ReportFrameSchema>;

/** GM→LC: the report was not written. `retryable` decides whether the LC sends it again. */
export const NackFrameSchema = Type.Object(
  {
    type: Type.Literal('nack'),
    reportId: ReportIdSchema,
    code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' }),
    reason: Text,
    retryable: Type.Boolean(),
  },
  strict,
);
export type NackFrame = Static<typeof NackFrameSchema>;

/** Either way: answer with a pong carrying `nonce` within `deadlineMs`, or be closed with 4408. */
export const PingFrameSchema = Type.Object({ type: Type.Literal('ping'), nonce: Count, deadlineMs: Millis }, strict);
export type PingFrame = Static<typeof PingFrameSchema>;

export const PongFrameSchema = Type.Object({ type: Type.Literal('pong'), nonce: Count }, strict);
export type PongFrame = Static<typeof PongFrameSchema>;

/** LC→GM: the LC lost confidence in its copy (gap, corruption); the GM answers with a snapshot. */
export const ResyncRequestFrameSchema = Type.Object({ type: Type.Literal('resync-request'), reason: Text }, strict);
export type ResyncRequestFrame = Static<typeof ResyncRequestFrameSchema>;

/** Either way: the peer may send `frames` more flow-controlled frames (object/sync-*, or report). */
export const CreditFrameSchema = Type.Object({ type: Type.Literal('credit'), frames: Credit }, strict);
export type CreditFrame = Static<typeof CreditFrameSchema>;

export const FedmeshUpstreamFrameSchema = Type.Union([
  HelloFrameSchema,
  SeqAckFrameSchema,
  ReportFrameSchema,
  PingFrameSchema,
  PongFrameSchema,
  ResyncRequestFrameSchema,
  CreditFrameSchema,
]);
/** Every frame an LC sends. */
export type FedmeshUpstreamFrame = Static<typeof FedmeshUpstreamFrameSchema>;

export const FedmeshDownstreamFrameSchema = Type.Union([
  WelcomeFrameSchema,
  UpsertFrameSchema,
  DeleteFrameSchema,
  SyncBeginFrameSchema,
  SyncEndFrameSchema,
  ReportAckFrameSchema,
  NackFrameSchema,
  PingFrameSchema,
  PongFrameSchema,
  CreditFrameSchema,
]);
/** Every frame a GM sends. */
export type FedmeshDownstreamFrame = Static<typeof FedmeshDownstreamFrameSchema>;

export type FedmeshFrame = FedmeshUpstreamFrame | FedmeshDownstreamFrame;
export type FedmeshFrameType = FedmeshFrame['type'];
