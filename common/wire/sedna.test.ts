import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireError, type WireErrorCode } from './errors.ts';
import { decodeSednaDownstream, decodeSednaFrame, decodeSednaUpstream, encodeSednaFrame } from './sedna.ts';
import type { SednaFrame } from './sedna-schema.ts';

const opts = { maxBytes: 4 * 1024 * 1024 };

// Base64 literals were produced independently of the code under test (Python's base64 module).
const DATASET_CR = {
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'Dataset',
  metadata: { name: 'ds-1', namespace: 'default' },
  spec: { url: '/data/ds-1/train.txt', format: 'txt', nodeName: 'edge-1' },
};
const DATASET_B64 =
  'eyJhcGlWZXJzaW9uIjoic2VkbmEuaW8vdjFhbHBoYTEiLCJraW5kIjoiRGF0YXNldCIsIm1ldGFkYXRhIjp7Im5hbWUiOiJkcy0xIiwibmFtZXNwYWNlIjoiZGVmYXVsdCJ9LCJzcGVjIjp7InVybCI6Ii9kYXRhL2RzLTEvdHJhaW4udHh0IiwiZm9ybWF0IjoidHh0Iiwibm9kZU5hbWUiOiJlZGdlLTEifX0=';
const IL_STATUS = { phase: 'Train', status: 'Ready', output: { models: null, ownerInfo: null } };
const IL_STATUS_B64 =
  'eyJwaGFzZSI6IlRyYWluIiwic3RhdHVzIjoiUmVhZHkiLCJvdXRwdXQiOnsibW9kZWxzIjpudWxsLCJvd25lckluZm8iOm51bGx9fQ==';
const DATASET_STATUS_B64 = 'eyJudW1iZXJPZlNhbXBsZXMiOjQyfQ==';

const env = (ns: string, kind: string, name: string, op: string, content: string | null) =>
  `{"header":{"namespace":"${ns}","resourceKind":"${kind}","resourceName":"${name}","operation":"${op}"},` +
  `"content":${content === null ? 'null' : `"${content}"`}}\n`;
const msg = (ns: string, kind: string, name: string, op: string, content: unknown) =>
  ({
    type: 'message',
    header: { namespace: ns, resourceKind: kind, resourceName: name, operation: op },
    content,
  }) as SednaFrame;

const golden: Array<{ name: string; dir: 'upstream' | 'downstream'; bytes: string; frame: SednaFrame }> = [
  {
    name: 'hello from a stock LC',
    dir: 'upstream',
    bytes: '{"namespace":"","resourceKind":"","resourceName":"","operation":""}\n',
    frame: { type: 'hello' },
  },
  {
    name: 'insert of a Dataset',
    dir: 'downstream',
    bytes: env('default', 'dataset', 'ds-1', 'insert', DATASET_B64),
    frame: msg('default', 'dataset', 'ds-1', 'insert', DATASET_CR),
  },
  {
    name: 'update of a Dataset',
    dir: 'downstream',
    bytes: env('default', 'dataset', 'ds-1', 'update', DATASET_B64),
    frame: msg('default', 'dataset', 'ds-1', 'update', DATASET_CR),
  },
  {
    name: 'delete with content null',
    dir: 'downstream',
    bytes: env('ai', 'jointinferenceservice', 'helmet', 'delete', null),
    frame: msg('ai', 'jointinferenceservice', 'helmet', 'delete', null),
  },
  {
    name: 'status of an IncrementalLearningJob',
    dir: 'upstream',
    bytes: env('default', 'incrementallearningjob', 'il-1', 'status', IL_STATUS_B64),
    frame: msg('default', 'incrementallearningjob', 'il-1', 'status', IL_STATUS),
  },
  {
    name: 'status of a Dataset',
    dir: 'upstream',
    bytes: env('default', 'dataset', 'ds-1', 'status', DATASET_STATUS_B64),
    frame: msg('default', 'dataset', 'ds-1', 'status', { numberOfSamples: 42 }),
  },
];

for (const c of golden) {
  test(`sedna golden encode: ${c.name}`, () => assert.equal(encodeSednaFrame(c.frame), c.bytes));
  test(`sedna golden decode: ${c.name}`, () => {
    assert.deepEqual(decodeSednaFrame(c.bytes, opts), c.frame);
    assert.deepEqual(decodeSednaFrame(Buffer.from(c.bytes), opts), c.frame);
    const directed = c.dir === 'upstream' ? decodeSednaUpstream : decodeSednaDownstream;
    assert.deepEqual(directed(c.bytes, opts), c.frame);
  });
}

const tolerated: Array<{ name: string; bytes: string; frame: SednaFrame }> = [
  {
    name: 'upper-case upstream kind is lowercased',
    bytes: env('default', 'Dataset', 'ds-1', 'status', DATASET_STATUS_B64),
    frame: msg('default', 'dataset', 'ds-1', 'status', { numberOfSamples: 42 }),
  },
  {
    name: 'mixed-case upstream kind is lowercased',
    bytes: env('default', 'IncrementalLearningJob', 'il-1', 'status', IL_STATUS_B64),
    frame: msg('default', 'incrementallearningjob', 'il-1', 'status', IL_STATUS),
  },
  {
    name: 'no trailing newline',
    bytes: env('default', 'dataset', 'ds-1', 'status', DATASET_STATUS_B64).trimEnd(),
    frame: msg('default', 'dataset', 'ds-1', 'status', { numberOfSamples: 42 }),
  },
  {
    name: 'CRLF after the object',
    bytes: `${env('default', 'model', 'm', 'delete', null).trimEnd()}\r\n`,
    frame: msg('default', 'model', 'm', 'delete', null),
  },
  {
    name: 'unknown envelope keys are ignored like Go does',
    bytes:
      '{"header":{"namespace":"a","resourceKind":"model","resourceName":"m","operation":"delete","x":1},"content":null,"y":2}',
    frame: msg('a', 'model', 'm', 'delete', null),
  },
  {
    name: 'a hello with other keys than the four empty strings (Go decodes any such object into an empty message)',
    bytes: '{"namespace":"a","resourceKind":"model","resourceName":"m","operation":"status","x":1}',
    frame: { type: 'hello' },
  },
  { name: 'an empty object as hello', bytes: '{}', frame: { type: 'hello' } },
  {
    name: 'hello without trailing newline',
    bytes: '{"namespace":"","resourceKind":"","resourceName":"","operation":""}',
    frame: { type: 'hello' },
  },
];
for (const c of tolerated) {
  test(`sedna decode tolerates: ${c.name}`, () => assert.deepEqual(decodeSednaFrame(c.bytes, opts), c.frame));
}

test('sedna encode escapes content like Go (HTML-safe, U+2028/9)', () => {
  const text = encodeSednaFrame(msg('a', 'model', 'm', 'insert', { a: '<&>\u2028\u2029' }));
  const b64 = /"content":"([^"]+)"/.exec(text)?.[1] ?? '';
  assert.equal(Buffer.from(b64, 'base64').toString(), '{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029"}');
});

type Decoder = (input: string | Uint8Array, o: { maxBytes: number }) => unknown;
const any: Decoder = decodeSednaFrame;
const up: Decoder = decodeSednaUpstream;
const down: Decoder = decodeSednaDownstream;
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const big = 'x'.repeat(10 * 1024 * 1024);

const bad: Array<{ name: string; decode: Decoder; input: string | Uint8Array; code: WireErrorCode }> = [
  { name: 'truncated JSON', decode: any, input: '{"header":', code: 'ERR_MALFORMED_JSON' },
  { name: 'empty frame', decode: any, input: '', code: 'ERR_MALFORMED_JSON' },
  { name: 'JSON array', decode: any, input: '[]', code: 'ERR_MALFORMED_JSON' },
  { name: 'JSON null', decode: any, input: 'null', code: 'ERR_MALFORMED_JSON' },
  { name: 'two objects', decode: any, input: '{}{}', code: 'ERR_MALFORMED_JSON' },
  { name: 'invalid UTF-8 bytes', decode: any, input: Uint8Array.of(0x7b, 0xff, 0x7d), code: 'ERR_MALFORMED_JSON' },
  { name: 'nesting bomb', decode: any, input: `${'['.repeat(1000)}${']'.repeat(1000)}`, code: 'ERR_MALFORMED_JSON' },
  {
    name: 'base64 without padding',
    decode: any,
    input: env('a', 'model', 'm', 'insert', 'e30'),
    code: 'ERR_BAD_BASE64',
  },
  {
    name: 'base64 non-canonical bits',
    decode: any,
    input: env('a', 'model', 'm', 'insert', 'e31='),
    code: 'ERR_BAD_BASE64',
  },
  { name: 'base64 URL alphabet', decode: any, input: env('a', 'model', 'm', 'insert', 'e30-'), code: 'ERR_BAD_BASE64' },
  {
    name: 'base64 with a space',
    decode: any,
    input: env('a', 'model', 'm', 'insert', 'e3 0='),
    code: 'ERR_BAD_BASE64',
  },
  { name: 'base64 junk', decode: any, input: env('a', 'model', 'm', 'insert', '!!!!'), code: 'ERR_BAD_BASE64' },
  {
    name: 'content not JSON',
    decode: any,
    input: env('a', 'model', 'm', 'insert', b64('not json')),
    code: 'ERR_BAD_CONTENT_JSON',
  },
  { name: 'content empty', decode: any, input: env('a', 'model', 'm', 'insert', ''), code: 'ERR_BAD_CONTENT_JSON' },
  {
    name: 'content not UTF-8',
    decode: any,
    input: env('a', 'model', 'm', 'insert', '/w=='),
    code: 'ERR_BAD_CONTENT_JSON',
  },
  {
    name: 'content nesting bomb',
    decode: any,
    input: env('a', 'model', 'm', 'insert', b64(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`)),
    code: 'ERR_BAD_CONTENT_JSON',
  },
  { name: 'unknown kind', decode: any, input: env('a', 'pod', 'm', 'insert', null), code: 'ERR_UNKNOWN_KIND' },
  {
    name: 'upper-case kind downstream',
    decode: any,
    input: env('a', 'Model', 'm', 'insert', null),
    code: 'ERR_UNKNOWN_KIND',
  },
  {
    name: 'kind Sedna has but fedmesh does not carry',
    decode: up,
    input: env('a', 'objectsearchservice', 'm', 'status', null),
    code: 'ERR_UNKNOWN_KIND',
  },
  {
    name: 'unknown operation',
    decode: any,
    input: env('a', 'model', 'm', 'patch', null),
    code: 'ERR_UNKNOWN_OPERATION',
  },
  {
    name: 'upper-case operation',
    decode: any,
    input: env('a', 'model', 'm', 'INSERT', null),
    code: 'ERR_UNKNOWN_OPERATION',
  },
  { name: 'empty operation', decode: any, input: env('a', 'model', 'm', '', null), code: 'ERR_UNKNOWN_OPERATION' },
  { name: 'insert sent upstream', decode: up, input: env('a', 'model', 'm', 'insert', null), code: 'ERR_DIRECTION' },
  { name: 'delete sent upstream', decode: up, input: env('a', 'model', 'm', 'delete', null), code: 'ERR_DIRECTION' },
  {
    name: 'status sent downstream',
    decode: down,
    input: env('a', 'model', 'm', 'status', null),
    code: 'ERR_DIRECTION',
  },
  { name: 'hello sent downstream', decode: down, input: golden[0]?.bytes ?? '', code: 'ERR_DIRECTION' },
  {
    name: 'missing namespace',
    decode: any,
    input: '{"header":{"resourceKind":"model","resourceName":"m","operation":"delete"},"content":null}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'missing resourceKind',
    decode: any,
    input: '{"header":{"namespace":"a","resourceName":"m","operation":"delete"},"content":null}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'missing resourceName',
    decode: any,
    input: '{"header":{"namespace":"a","resourceKind":"model","operation":"delete"},"content":null}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'missing operation',
    decode: any,
    input: '{"header":{"namespace":"a","resourceKind":"model","resourceName":"m"},"content":null}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'missing content',
    decode: any,
    input: '{"header":{"namespace":"a","resourceKind":"model","resourceName":"m","operation":"delete"}}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'content is a number',
    decode: any,
    input: '{"header":{"namespace":"a","resourceKind":"model","resourceName":"m","operation":"delete"},"content":1}',
    code: 'ERR_SCHEMA',
  },
  { name: 'header is null', decode: any, input: '{"header":null,"content":null}', code: 'ERR_SCHEMA' },
  { name: 'upper-case name', decode: any, input: env('a', 'model', 'M', 'delete', null), code: 'ERR_SCHEMA' },
  {
    name: 'name with an empty DNS label',
    decode: any,
    input: env('a', 'model', 'a..b', 'delete', null),
    code: 'ERR_SCHEMA',
  },
  {
    name: 'name with an escaped surrogate',
    decode: any,
    input: env('a', 'model', '\\ud800', 'delete', null),
    code: 'ERR_SCHEMA',
  },
  { name: 'empty namespace', decode: any, input: env('', 'model', 'm', 'delete', null), code: 'ERR_SCHEMA' },
  {
    name: 'content without a header',
    decode: up,
    input: '{"content":null}',
    code: 'ERR_SCHEMA',
  },
  { name: '10 MiB string', decode: any, input: big, code: 'ERR_FRAME_TOO_LARGE' },
  { name: '10 MiB buffer', decode: up, input: Buffer.from(big), code: 'ERR_FRAME_TOO_LARGE' },
  {
    name: 'multi-byte text over the byte limit',
    decode: down,
    input: 'é'.repeat(3 * 1024 * 1024),
    code: 'ERR_FRAME_TOO_LARGE',
  },
];

for (const c of bad) {
  test(`sedna decode rejects: ${c.name}`, () => {
    assert.throws(
      () => c.decode(c.input, opts),
      (err: unknown) => err instanceof WireError && err.name === 'WireError' && err.code === c.code,
    );
  });
}

const unencodable: Array<{ name: string; frame: unknown }> = [
  { name: 'upper-case kind', frame: msg('a', 'Model', 'm', 'insert', null) },
  { name: 'unknown operation', frame: msg('a', 'model', 'm', 'patch', null) },
  { name: 'undefined content', frame: msg('a', 'model', 'm', 'insert', undefined) },
  { name: 'BigInt content', frame: msg('a', 'model', 'm', 'insert', { n: 1n }) },
  { name: 'empty name', frame: msg('a', 'model', '', 'insert', null) },
  { name: 'name that is not a Kubernetes name', frame: msg('a', 'model', 'x<y>', 'insert', null) },
];
for (const c of unencodable) {
  test(`sedna encode rejects: ${c.name}`, () => {
    assert.throws(() => encodeSednaFrame(c.frame as SednaFrame), { name: 'WireError', code: 'ERR_SCHEMA' });
  });
}

test('sedna decode: maxBytes must be a positive integer', () => {
  assert.throws(() => decodeSednaFrame('{}', { maxBytes: 0 }), { code: 'ERR_CONFIG' });
});
