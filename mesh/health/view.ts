/**
 * A node's view of its zone: what it last saw of every other member, signed with its own mesh
 * identity key (the Ed25519 key of mesh/records — no second identity). Anyone holding the
 * directory's name ↔ peer ID pins can check who wrote a view; no shared secret exists that would
 * let one node forge another's vote (SuperEdge signs votes with one cluster-wide HMAC key).
 *
 * Wire form, as a node record's: UTF-8 JSON `{"payload":"<base64>","sig":"<base64>"}`. The payload
 * is the view as canonical JSON (object keys sorted, no whitespace), so one view has one byte
 * encoding; a payload that is not canonical is refused. The signature covers
 * `fedmesh-health-view/1\n` + payload (domain separation from node records and libp2p's own).
 */
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { open, seal, verifySignature } from '../records/envelope.ts';
import { NODE_NAME, NodeNameSchema } from '../records/record.ts';
import { MAX_VIEW_BYTES, MAX_VIEW_VERDICTS } from './constants.ts';
import { ViewRejectedError, type ViewRejectionCode } from './errors.ts';
import type { Zone } from './zones.ts';

const DOMAIN = new TextEncoder().encode('fedmesh-health-view/1\n');
const SAFE_INT = { minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
/** A Kubernetes label value (≤ 63 characters), `*` (zones off) or `` (a node alone). */
const LABEL_VALUE = '^(\\*|(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?)$';

export const VerdictSchema = Type.Object(
  {
    /** The voter's verdict on the subject: unhealthy after the configured run of failed probes. */
    state: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
    /** Voter's wall-clock ms of the last successful probe; null if none succeeded since it started. */
    lastOkAt: Type.Union([Type.Integer(SAFE_INT), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Verdict = Static<typeof VerdictSchema>;

export const HealthViewSchema = Type.Object(
  {
    v: Type.Literal(1),
    /** The voter's node name. */
    voter: NodeNameSchema,
    /** The voter's libp2p peer ID; must be the one pinned for `voter`, and its key signed the view. */
    peerId: Type.String({ minLength: 1, maxLength: 128 }),
    /** Incarnation of the voter: persisted by the caller, bumped at every start. */
    epoch: Type.Integer(SAFE_INT),
    /** Views signed in this epoch before this one. (epoch, seq) only grows per voter. */
    seq: Type.Integer(SAFE_INT),
    /** Voter's wall-clock ms at signing: bounded by the receiver's allowed skew. */
    time: Type.Integer(SAFE_INT),
    /** The voter's zone id (see zones.ts). */
    zone: Type.String({ maxLength: 63, pattern: LABEL_VALUE }),
    /** Verdicts by subject node name; a subject not probed yet is absent. */
    verdicts: Type.Record(Type.String({ pattern: NODE_NAME.source, maxLength: 253 }), VerdictSchema, {
      maxProperties: MAX_VIEW_VERDICTS,
      additionalProperties: false,
    }),
  },
  { additionalProperties: false },
);
export type HealthView = Static<typeof HealthViewSchema>;

const checkView = Compile(HealthViewSchema);

/** A view with its signed wire bytes (forwarded unchanged). */
export interface SignedView {
  view: HealthView;
  bytes: Uint8Array;
}

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const reject = (code: ViewRejectionCode, why: string, voter?: string, cause?: unknown) =>
  new ViewRejectedError(code, `health view rejected: ${why}`, voter, cause === undefined ? undefined : { cause });

/** The canonical payload bytes of a view (what is signed). */
export function encodeView(view: HealthView): Uint8Array {
  return new TextEncoder().encode(canonicalJson(view));
}

/** Signs `view` with `key`, which must be the key behind `view.peerId`. */
export async function signView(view: HealthView, key: PrivateKey): Promise<SignedView> {
  if (!checkView.Check(view)) throw reject('ERR_VIEW_MALFORMED', 'view does not match its schema');
  if (peerIdFromPrivateKey(key).toString() !== view.peerId) {
    throw reject('ERR_VIEW_KEY_MISMATCH', 'signing key is not the key of view.peerId', view.voter);
  }
  const bytes = await seal(DOMAIN, encodeView(view), key);
  if (bytes.length > MAX_VIEW_BYTES) throw reject('ERR_VIEW_MALFORMED', 'view too large', view.voter);
  return { view, bytes };
}

/** A decoded but not yet verified view: schema-valid and canonical, signature unchecked. */
export interface DecodedView {
  view: HealthView;
  payload: Uint8Array;
  sig: Uint8Array;
}

/** Decodes untrusted bytes: size, envelope, JSON, schema, canonical form. Throws ERR_VIEW_MALFORMED. */
export function decodeView(bytes: Uint8Array): DecodedView {
  const env = open(bytes, MAX_VIEW_BYTES);
  if ('why' in env) throw reject('ERR_VIEW_MALFORMED', env.why, undefined, env.cause);
  const { payload, sig, text } = env;
  let view: unknown;
  try {
    view = JSON.parse(text);
  } catch (err) {
    throw reject('ERR_VIEW_MALFORMED', 'payload is not JSON', undefined, err);
  }
  if (!checkView.Check(view)) throw reject('ERR_VIEW_MALFORMED', 'payload does not match its schema');
  if (canonicalJson(view) !== text) throw reject('ERR_VIEW_MALFORMED', 'payload is not canonical', view.voter);
  return { view, payload, sig };
}

/** Orders views of one voter: (epoch, seq) lexicographically. */
export interface ViewStamp {
  epoch: number;
  seq: number;
}
export const isNewer = (a: ViewStamp, b: ViewStamp | undefined): boolean =>
  b === undefined || a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);

export interface VerifyContext {
  /** The peer ID pinned for a node name (the mesh directory's `peerOf`); undefined if none. */
  keyOf(name: string): string | undefined;
  /** The zone a voter's view is judged in: the receiver's own on a node; the voter's, from labels, in the GM. */
  zoneOf(voter: string): Zone;
  /** Last (epoch, seq) accepted from a voter; undefined if none remembered. */
  lastAccepted(voter: string): ViewStamp | undefined;
  /** Receiver's wall-clock ms now. */
  wallNow: number;
  /** Largest |view.time − wallNow| accepted, ms. */
  maxSkewMs: number;
}

/**
 * Decodes and verifies a view from untrusted bytes. Cheap checks that need no trust in the content
 * come first; every check naming the voter in a rejection after the signature is about an authentic
 * view. Throws ViewRejectedError with the first failing check's code.
 */
export async function verifyView(bytes: Uint8Array, ctx: VerifyContext): Promise<SignedView> {
  const { view, payload, sig } = decodeView(bytes);
  const { voter } = view;
  const zone = ctx.zoneOf(voter);
  if (!zone.has(voter) || view.zone !== zone.id) {
    throw reject('ERR_VOTER_OUTSIDE_ZONE', `voter ${voter} (zone "${view.zone}") is not in zone "${zone.id}"`, voter);
  }
  const pinned = ctx.keyOf(voter);
  if (pinned === undefined) throw reject('ERR_VIEW_UNKNOWN_VOTER', `no key is pinned for ${voter}`, voter);
  if (pinned !== view.peerId) {
    throw reject('ERR_VIEW_KEY_MISMATCH', `${voter} is pinned to ${pinned}, the view names ${view.peerId}`, voter);
  }
  const signed = await verifySignature(DOMAIN, payload, sig, pinned);
  if (!signed.ok) {
    const code = signed.why === 'bad signature' ? 'ERR_VIEW_SIGNATURE' : 'ERR_VIEW_KEY_MISMATCH';
    throw reject(code, `${signed.why} (pinned peer ID of ${voter})`, voter, signed.cause);
  }
  for (const subject of Object.keys(view.verdicts)) {
    if (!zone.has(subject)) {
      throw reject('ERR_SUBJECT_OUTSIDE_ZONE', `${voter} judges ${subject}, outside zone "${zone.id}"`, voter);
    }
  }
  const skew = view.time - ctx.wallNow;
  if (Math.abs(skew) > ctx.maxSkewMs) {
    throw reject('ERR_VIEW_SKEW', `${voter}'s view is ${skew} ms from our clock (limit ${ctx.maxSkewMs})`, voter);
  }
  const last = ctx.lastAccepted(voter);
  if (!isNewer(view, last)) {
    throw reject(
      'ERR_VIEW_REPLAY',
      `${voter} view ${view.epoch}.${view.seq} is not newer than ${last?.epoch}.${last?.seq}`,
      voter,
    );
  }
  return { view, bytes };
}
