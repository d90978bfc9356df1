/**
 * Sedna's worker API: workers POST their state to `/sedna/workers/{name}/info` (Sedna's
 * workertypes.MessageContent). The LC turns it into a status report of the owner object, shaped as
 * Sedna's LC shapes its upstream message (`{phase, status, output: {models, ownerInfo}}`).
 */
import { type Static, Type } from 'typebox';
import { type Kind, kindOfSedna, SEDNA_KINDS, type SednaKind } from '../common/wire/index.ts';

const Name = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
});
const Namespace = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const JsonObject = Type.Record(Type.String(), Type.Unknown());

/**
 * Body of `POST /sedna/workers/{name}/info`. Unknown fields are ignored, as Go's decoder does, and
 * `kind`/`status` may be absent (Go reads them as ""): Sedna's SDK sends its periodic joint-inference
 * report without `status`.
 */
export const WorkerMessageSchema = Type.Object({
  /** The worker's name; must equal the path's. */
  name: Name,
  namespace: Namespace,
  /** The job or service the worker belongs to. */
  ownerName: Name,
  /** Its kind, lowercase as Sedna writes it (any case accepted). */
  ownerKind: Type.String({ minLength: 1, maxLength: 64 }),
  /** Worker phase: train, eval, deploy, inference... */
  kind: Type.Optional(Type.String({ maxLength: 64 })),
  /** Worker status: ready, completed, failed... */
  status: Type.Optional(Type.String({ maxLength: 64 })),
  ownerInfo: Type.Optional(Type.Union([JsonObject, Type.Null()])),
  results: Type.Optional(Type.Union([Type.Array(JsonObject), Type.Null()])),
});
/** The body as it arrives. */
export type WorkerMessageBody = Static<typeof WorkerMessageSchema>;
/** The body with Go's zero values filled in, as Sedna's LC reads it. */
export type WorkerMessage = WorkerMessageBody & { kind: string; status: string };

export function workerMessageOf(body: WorkerMessageBody): WorkerMessage {
  return { ...body, kind: body.kind ?? '', status: body.status ?? '' };
}

export const WorkerParamsSchema = Type.Object({ name: Name });

/** Sedna's reply body (`ResponseMessage`, Go field names without JSON tags). */
export const WorkerReplySchema = Type.Object({ Status: Type.Integer(), Message: Type.String() });

/** The report a worker message makes, or an error text when the owner kind is not served. */
export function reportOfWorkerMessage(
  m: WorkerMessage,
): { kind: Kind; namespace: string; name: string; status: Record<string, unknown> } | string {
  const sednaKind = m.ownerKind.toLowerCase() as SednaKind;
  if (!SEDNA_KINDS.includes(sednaKind)) return `ownerKind "${m.ownerKind.slice(0, 64)}" is not a Sedna kind`;
  return {
    kind: kindOfSedna(sednaKind),
    namespace: m.namespace,
    name: m.ownerName,
    status: {
      phase: m.kind,
      status: m.status,
      output: { models: m.results ?? null, ownerInfo: m.ownerInfo ?? null },
    },
  };
}

/** `GET /fedmesh/dead-letters?limit=N` (fedmesh's, not Sedna's): the newest N dead letters. */
export const DeadLettersQuerySchema = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
});
/** Listed when no limit is given. */
export const DEAD_LETTERS_LISTED = 100;

export const DeadLettersReplySchema = Type.Object({
  items: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      kind: Type.String(),
      namespace: Type.String(),
      name: Type.String(),
      reportedAt: Type.String(),
      bytes: Type.Integer(),
      /** The status JSON as text (null when it was too big to keep). */
      status: Type.Union([Type.String(), Type.Null()]),
      cause: Type.String(),
      code: Type.String(),
      reason: Type.String(),
      deadLetteredAt: Type.String(),
    }),
  ),
  /** Dead letters kept in all. */
  total: Type.Integer(),
});
