import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compile } from 'typebox/compile';
import {
  decodesOrRejects,
  junk,
  mutateJson,
  mutateText,
  sednaDownstream,
  sednaUpstream,
  viaJson,
} from './arbitraries.ts';
import { decodeSednaDownstream, decodeSednaFrame, decodeSednaUpstream, encodeSednaFrame } from './sedna.ts';
import { SednaDownstreamMessageSchema, SednaFrameSchema, SednaUpstreamFrameSchema } from './sedna-schema.ts';

const opts = { maxBytes: 64 * 1024 };
const anyFrame = Compile(SednaFrameSchema);
const upFrame = Compile(SednaUpstreamFrameSchema);
const downFrame = Compile(SednaDownstreamMessageSchema);
const valid = fc.oneof(sednaUpstream, sednaDownstream).map(encodeSednaFrame);

const cases = [
  { name: 'decodeSednaFrame', decode: decodeSednaFrame, schema: anyFrame },
  { name: 'decodeSednaUpstream', decode: decodeSednaUpstream, schema: upFrame },
  { name: 'decodeSednaDownstream', decode: decodeSednaDownstream, schema: downFrame },
] as const;

test('sedna fuzz: decode(encode(m)) equals m for upstream frames', () => {
  fc.assert(
    fc.property(sednaUpstream, (m) => {
      assert.deepEqual(decodeSednaUpstream(encodeSednaFrame(m), opts), viaJson(m));
    }),
    { numRuns: 300 },
  );
});

test('sedna fuzz: decode(encode(m)) equals m for downstream frames', () => {
  fc.assert(
    fc.property(sednaDownstream, (m) => {
      const bytes = encodeSednaFrame(m);
      assert.deepEqual(decodeSednaDownstream(bytes, opts), viaJson(m));
      // Encoding is a function of the decoded value: re-encoding reproduces the same bytes.
      assert.equal(encodeSednaFrame(decodeSednaFrame(bytes, opts)), bytes);
    }),
    { numRuns: 300 },
  );
});

for (const c of cases) {
  const reencode = (v: unknown) => c.decode(encodeSednaFrame(v as never), opts);
  test(`sedna fuzz: ${c.name} never throws anything but WireError on junk`, () => {
    fc.assert(
      fc.property(junk, (input) => decodesOrRejects(() => c.decode(input, opts), c.schema, reencode)),
      {
        numRuns: 500,
      },
    );
  });
  test(`sedna fuzz: ${c.name} on damaged valid frames decodes to a valid frame or rejects`, () => {
    fc.assert(
      fc.property(fc.oneof(mutateText(valid), mutateJson(valid)), (input) =>
        decodesOrRejects(() => c.decode(input, opts), c.schema, reencode),
      ),
      { numRuns: 500 },
    );
  });
}
