import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compile } from 'typebox/compile';
import {
  decodesOrRejects,
  fedmeshDownstream,
  fedmeshUpstream,
  framelike,
  junk,
  mutateJson,
  mutateText,
  viaJson,
} from './arbitraries.ts';
import { decodeFedmeshFrame, encodeFedmeshFrame } from './fedmesh.ts';
import { FedmeshDownstreamFrameSchema, FedmeshUpstreamFrameSchema } from './fedmesh-schema.ts';

const maxBytes = 64 * 1024;
const TYPES = ['hello', 'welcome', 'object', 'sync-begin', 'sync-end', 'ack', 'report', 'nack', 'ping', 'pong'];
const KEYS = [
  'seq',
  'op',
  'kind',
  'namespace',
  'name',
  'object',
  'id',
  'reportId',
  'status',
  'stream',
  'node',
  'frames',
];

const cases = [
  { direction: 'upstream', frames: fedmeshUpstream, schema: Compile(FedmeshUpstreamFrameSchema) },
  { direction: 'downstream', frames: fedmeshDownstream, schema: Compile(FedmeshDownstreamFrameSchema) },
] as const;

for (const c of cases) {
  const decode = (input: string | Uint8Array) => decodeFedmeshFrame(input, { maxBytes, direction: c.direction });
  const reencode = (v: unknown) => decode(encodeFedmeshFrame(v as never));
  const valid = (c.frames as fc.Arbitrary<never>).map(encodeFedmeshFrame);

  test(`fedmesh fuzz ${c.direction}: decode(encode(f)) equals f`, () => {
    fc.assert(
      fc.property(c.frames as fc.Arbitrary<never>, (f) => {
        assert.deepEqual(decode(encodeFedmeshFrame(f)), viaJson(f));
      }),
      { numRuns: 500 },
    );
  });

  test(`fedmesh fuzz ${c.direction}: never throws anything but WireError on junk`, () => {
    fc.assert(
      fc.property(fc.oneof(junk, framelike(KEYS, TYPES)), (input) =>
        decodesOrRejects(() => decode(input), c.schema, reencode),
      ),
      { numRuns: 500 },
    );
  });

  test(`fedmesh fuzz ${c.direction}: damaged valid frames decode to a valid frame or reject`, () => {
    fc.assert(
      fc.property(fc.oneof(mutateText(valid), mutateJson(valid)), (input) =>
        decodesOrRejects(() => decode(input), c.schema, reencode),
      ),
      { numRuns: 500 },
    );
  });
}
