/**
 * fast-check arbitraries and helpers shared by the fuzz tests. Test-only: nothing in the codecs
 * imports this file.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Validator } from 'typebox/compile';
import { WireError } from './errors.ts';
import type { FedmeshDownstreamFrame, FedmeshUpstreamFrame } from './fedmesh-schema.ts';
import { KINDS, SEDNA_KINDS } from './kinds.ts';
import type { SednaDownstreamMessage, SednaUpstreamFrame } from './sedna-schema.ts';

/** Any Unicode text (no lone surrogates, which JSON-over-UTF-8 cannot carry). */
const text = (minLength: number, maxLength: number) => fc.string({ unit: 'binary', minLength, maxLength });
const namespace = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const name = fc.array(namespace, { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));
const id = text(1, 40);
const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const credit = fc.integer({ min: 1, max: 1_000_000 });
const millis = fc.integer({ min: 100, max: 600_000 });
const payload = fc.dictionary(text(0, 12), fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), { maxKeys: 6 });
const kind = fc.constantFrom(...KINDS);
const reportId = fc.record({ instance: id, seq });

export const sednaUpstream: fc.Arbitrary<SednaUpstreamFrame> = fc.oneof(
  fc.constant({ type: 'hello' as const }),
  fc.record({
    type: fc.constant('message' as const),
    header: fc.record({
      namespace,
      resourceKind: fc.constantFrom(...SEDNA_KINDS),
      resourceName: name,
      operation: fc.constant('status' as const),
    }),
    content: fc.option(payload, { nil: null }),
  }),
);

export const sednaDownstream: fc.Arbitrary<SednaDownstreamMessage> = fc.record({
  type: fc.constant('message' as const),
  header: fc.record({
    namespace,
    resourceKind: fc.constantFrom(...SEDNA_KINDS),
    resourceName: name,
    operation: fc.constantFrom('insert' as const, 'update' as const, 'delete' as const),
  }),
  content: fc.option(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), { nil: null }),
});

const heartbeat = fc
  .integer({ min: 100, max: 599_999 })
  .chain((interval) => fc.tuple(fc.constant(interval), fc.integer({ min: interval + 1, max: 600_000 })));

export const fedmeshUpstream: fc.Arbitrary<FedmeshUpstreamFrame> = fc.oneof(
  fc
    .record({ node: name, lcVersion: id, instance: id, stream: fc.option(id, { nil: null }), seq: count, credit })
    .map(({ seq: s, ...h }) => ({ type: 'hello' as const, ...h, lastDownstreamSeq: h.stream === null ? 0 : s })),
  fc.record({ type: fc.constant('ack' as const), seq }),
  fc.record({
    type: fc.constant('report' as const),
    id: reportId,
    kind,
    namespace,
    name,
    status: payload,
    reportedAt: fc
      .date({ min: new Date(0), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  }),
  fc.record({ type: fc.constant('ping' as const), nonce: count, deadlineMs: millis }),
  fc.record({ type: fc.constant('pong' as const), nonce: count }),
  fc.record({ type: fc.constant('resync-request' as const), reason: text(0, 40) }),
  fc.record({ type: fc.constant('credit' as const), frames: credit }),
);

export const fedmeshDownstream: fc.Arbitrary<FedmeshDownstreamFrame> = fc.oneof(
  fc
    .record({
      replica: id,
      stream: id,
      mode: fc.constantFrom('resume' as const, 'resync' as const),
      nextSeq: seq,
      hb: heartbeat,
      credit,
    })
    .map(({ hb, ...w }) => ({ type: 'welcome' as const, ...w, heartbeatIntervalMs: hb[0], heartbeatTimeoutMs: hb[1] })),
  fc.record({
    type: fc.constant('object' as const),
    seq,
    op: fc.constant('upsert' as const),
    kind,
    namespace,
    name,
    object: payload,
  }),
  fc.record({
    type: fc.constant('object' as const),
    seq,
    op: fc.constant('delete' as const),
    kind,
    namespace,
    name,
  }),
  fc.record({ type: fc.constant('sync-begin' as const), seq, syncId: id }),
  fc.record({ type: fc.constant('sync-end' as const), seq, syncId: id, objects: count }),
  fc.record({ type: fc.constant('ack' as const), reportId }),
  fc.record({
    type: fc.constant('nack' as const),
    reportId,
    code: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/),
    reason: text(0, 40),
    retryable: fc.boolean(),
  }),
  fc.record({ type: fc.constant('ping' as const), nonce: count, deadlineMs: millis }),
  fc.record({ type: fc.constant('pong' as const), nonce: count }),
  fc.record({ type: fc.constant('credit' as const), frames: credit }),
);

/** Peer input with no structure: any text, any bytes, any JSON. */
export const junk: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  text(0, 200),
  fc.uint8Array({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
);

/** JSON objects that look like frames (known keys, arbitrary values), so decoding gets past the first checks. */
export function framelike(keys: readonly string[], types: readonly string[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(...types, ...SEDNA_KINDS, ...KINDS, 'status', 'insert'),
  );
  return fc
    .tuple(fc.constantFrom(...types), fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: keys.length }))
    .map(([type, rest]) => JSON.stringify({ type, ...rest }));
}

/** Character-level damage: replace, insert or delete a short run at some position. */
export function mutateText(source: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(source, fc.nat(), fc.nat({ max: 4 }), text(0, 3)).map(([s, at, cut, insert]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    return s.slice(0, i) + insert + s.slice(i + cut);
  });
}

/** Structural damage: at one path of the parsed frame, drop the key or set any JSON value. */
export function mutateJson(source: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(source, fc.nat(), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }))
    .map(([s, pick, replacement]) => {
      const root = JSON.parse(s) as unknown;
      const slots = collect(root);
      const slot = slots[pick % Math.max(1, slots.length)];
      if (slot === undefined) return s;
      if (replacement === undefined && !Array.isArray(slot.parent)) delete slot.parent[slot.key];
      else (slot.parent as Record<string, unknown>)[slot.key] = replacement ?? null;
      return JSON.stringify(root);
    });
}

interface Slot {
  parent: Record<string, unknown> | unknown[];
  key: string;
}

function collect(value: unknown, out: Slot[] = []): Slot[] {
  if (typeof value !== 'object' || value === null) return out;
  for (const key of Object.keys(value)) {
    out.push({ parent: value as Record<string, unknown>, key });
    collect((value as Record<string, unknown>)[key], out);
  }
  return out;
}

/** JSON's view of a value (-0 becomes 0), for comparing what survives a round trip. */
export function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The fuzz oracle: `run` either throws a WireError or returns a value the schema accepts, which
 * then survives `reencode` → `run` unchanged. Anything else thrown fails the property.
 */
export function decodesOrRejects<T>(run: () => T, schema: Validator, reencode: (v: T) => T): void {
  let out: T;
  try {
    out = run();
  } catch (err) {
    if (err instanceof WireError) return;
    throw err;
  }
  assert.ok(schema.Check(out), `decoded value fails its schema: ${JSON.stringify(out)}`);
  assert.deepEqual(viaJson(reencode(out)), viaJson(out));
}
