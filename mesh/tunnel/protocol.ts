/**
 * The `/fedmesh/tunnel/1.0.0` header: the first message on a tunnel stream (u32 length + JSON),
 * answered by one reply; then both sides speak session frames (session/codec.ts).
 *
 *   open    {v:1, op:"open",   session, node, host, port, proto?}   start a session to host:port on node
 *                                                      (proto "udp": length-prefixed datagrams)
 *   resume  {v:1, op:"resume", session, received}           continue a session on a new path
 *   reply   {v:1, ok:true, received} | {v:1, ok:false, reason, message}
 *
 * `received` is how many bytes of the other side's output the sender holds: each side replays
 * from the other's figure. Unknown fields are refused: both ends are fedmesh.
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { MAX_HEADER_BYTES } from '../constants.ts';
import { REFUSAL_REASONS, type RefusalReason } from '../errors.ts';
import { NodeNameSchema } from '../records/record.ts';

const strict = { additionalProperties: false } as const;
const SessionId = Type.String({ pattern: '^[0-9a-f]{32}$' });
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const OpenSchema = Type.Object(
  {
    v: Type.Literal(1),
    op: Type.Literal('open'),
    session: SessionId,
    node: NodeNameSchema,
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** `udp`: datagrams framed on the stream (datagram.ts); absent: a TCP byte stream. */
    proto: Type.Optional(Type.Literal('udp')),
  },
  strict,
);
export const ResumeSchema = Type.Object(
  { v: Type.Literal(1), op: Type.Literal('resume'), session: SessionId, received: Offset },
  strict,
);
export const RequestSchema = Type.Union([OpenSchema, ResumeSchema]);
export type TunnelRequest = Static<typeof RequestSchema>;

export const ReplySchema = Type.Union([
  Type.Object({ v: Type.Literal(1), ok: Type.Literal(true), received: Offset }, strict),
  Type.Object(
    {
      v: Type.Literal(1),
      ok: Type.Literal(false),
      reason: Type.Enum([...REFUSAL_REASONS]),
      message: Type.String({ maxLength: 256 }),
    },
    strict,
  ),
]);
export type TunnelReply =
  | { v: 1; ok: true; received: number }
  | { v: 1; ok: false; reason: RefusalReason; message: string };

const checkRequest = Compile(RequestSchema);
const checkReply = Compile(ReplySchema);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  if (bytes.length > MAX_HEADER_BYTES) throw new Error('tunnel header too large');
  return bytes;
}

function parse(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

/** The request, or undefined when it is not valid JSON of the request schema. */
export function decodeRequest(bytes: Uint8Array): TunnelRequest | undefined {
  const v = parse(bytes);
  return checkRequest.Check(v) ? (v as TunnelRequest) : undefined;
}

export function decodeReply(bytes: Uint8Array): TunnelReply | undefined {
  const v = parse(bytes);
  return checkReply.Check(v) ? (v as TunnelReply) : undefined;
}
