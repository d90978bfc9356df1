/**
 * TypeBox schemas of the Sedna v1 dialect: the raw wire shapes the decoder checks first, and the
 * decoded frames it returns (kind normalised, content decoded) that `encodeSednaFrame` accepts.
 */
import { type Static, Type } from 'typebox';
import { MAX_TEXT_LENGTH } from './constants.ts';
import { SEDNA_KINDS } from './kinds.ts';
import { NameSchema, NamespaceSchema } from './names.ts';

/** Operations the GM sends; `insert` means upsert, stock LCs drop `update`. */
export const SEDNA_DOWNSTREAM_OPERATIONS = ['insert', 'update', 'delete'] as const;
/** The only operation an LC sends. */
export const SEDNA_UPSTREAM_OPERATIONS = ['status'] as const;

export type SednaDownstreamOperation = (typeof SEDNA_DOWNSTREAM_OPERATIONS)[number];
export type SednaUpstreamOperation = (typeof SEDNA_UPSTREAM_OPERATIONS)[number];

const Text = Type.String({ maxLength: MAX_TEXT_LENGTH });

// Wire shapes. Unknown keys are tolerated (and dropped) like Go's encoding/json does on the Sedna side.

/**
 * The hello: a stock LC sends a bare header with four empty strings right after dialing. Go decodes
 * any object without `header` and `content` into an empty message, so every such object is a hello,
 * whatever keys it carries (they are ignored, as unknown envelope keys are).
 */
export const SednaHelloWireSchema = Type.Object({});

/** `{"header":{...},"content":base64|null}` before kind, operation and content are interpreted. */
export const SednaEnvelopeWireSchema = Type.Object({
  header: Type.Object({ namespace: NamespaceSchema, resourceKind: Text, resourceName: NameSchema, operation: Text }),
  content: Type.Union([Type.String(), Type.Null()]),
});
export type SednaEnvelopeWire = Static<typeof SednaEnvelopeWireSchema>;

// Decoded frames.

export const SednaKindSchema = Type.Enum(SEDNA_KINDS);

/** The hello, recognised and carrying nothing. */
export const SednaHelloSchema = Type.Object({ type: Type.Literal('hello') }, { additionalProperties: false });
export type SednaHello = Static<typeof SednaHelloSchema>;

const header = <Op extends readonly string[]>(ops: Op) =>
  Type.Object(
    { namespace: NamespaceSchema, resourceKind: SednaKindSchema, resourceName: NameSchema, operation: Type.Enum(ops) },
    { additionalProperties: false },
  );

/** GM→LC: the whole CR as JSON in `content` (`null` allowed, e.g. on delete). */
export const SednaDownstreamMessageSchema = Type.Object(
  { type: Type.Literal('message'), header: header(SEDNA_DOWNSTREAM_OPERATIONS), content: Type.Unknown() },
  { additionalProperties: false },
);
export type SednaDownstreamMessage = Static<typeof SednaDownstreamMessageSchema>;

/** LC→GM: a status report; `resourceKind` is already lowercased. */
export const SednaUpstreamMessageSchema = Type.Object(
  { type: Type.Literal('message'), header: header(SEDNA_UPSTREAM_OPERATIONS), content: Type.Unknown() },
  { additionalProperties: false },
);
export type SednaUpstreamMessage = Static<typeof SednaUpstreamMessageSchema>;

export const SednaUpstreamFrameSchema = Type.Union([SednaHelloSchema, SednaUpstreamMessageSchema]);
export type SednaUpstreamFrame = Static<typeof SednaUpstreamFrameSchema>;

export const SednaFrameSchema = Type.Union([
  SednaHelloSchema,
  SednaUpstreamMessageSchema,
  SednaDownstreamMessageSchema,
]);
/** Anything `decodeSednaFrame` returns and `encodeSednaFrame` accepts. */
export type SednaFrame = Static<typeof SednaFrameSchema>;
export type SednaMessage = SednaUpstreamMessage | SednaDownstreamMessage;
