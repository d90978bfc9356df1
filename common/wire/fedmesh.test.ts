import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireError, type WireErrorCode } from './errors.ts';
import { decodeFedmeshFrame, encodeFedmeshFrame } from './fedmesh.ts';
import type { FedmeshFrame } from './fedmesh-schema.ts';

const opts = { maxBytes: 1024 * 1024 };
type Dir = 'upstream' | 'downstream';
const rid = { instance: 'lc-7f3a', seq: 12 };

const golden: Array<{ name: string; dirs: Dir[]; text: string; frame: FedmeshFrame }> = [
  {
    name: 'hello, first boot',
    dirs: ['upstream'],
    text: '{"type":"hello","node":"edge-1","lcVersion":"0.1.0","instance":"lc-7f3a","stream":null,"lastDownstreamSeq":0,"credit":256}',
    frame: {
      type: 'hello',
      node: 'edge-1',
      lcVersion: '0.1.0',
      instance: 'lc-7f3a',
      stream: null,
      lastDownstreamSeq: 0,
      credit: 256,
    },
  },
  {
    name: 'hello, resuming',
    dirs: ['upstream'],
    text: '{"type":"hello","node":"edge-1","lcVersion":"0.1.0","instance":"lc-7f3a","stream":"gm-0/9c1d","lastDownstreamSeq":41,"credit":256}',
    frame: {
      type: 'hello',
      node: 'edge-1',
      lcVersion: '0.1.0',
      instance: 'lc-7f3a',
      stream: 'gm-0/9c1d',
      lastDownstreamSeq: 41,
      credit: 256,
    },
  },
  {
    name: 'welcome, resume',
    dirs: ['downstream'],
    text: '{"type":"welcome","replica":"gm-0","stream":"gm-0/9c1d","mode":"resume","nextSeq":42,"heartbeatIntervalMs":10000,"heartbeatTimeoutMs":30000,"credit":64}',
    frame: {
      type: 'welcome',
      replica: 'gm-0',
      stream: 'gm-0/9c1d',
      mode: 'resume',
      nextSeq: 42,
      heartbeatIntervalMs: 10_000,
      heartbeatTimeoutMs: 30_000,
      credit: 64,
    },
  },
  {
    name: 'upsert',
    dirs: ['downstream'],
    text: '{"type":"object","seq":42,"op":"upsert","kind":"Dataset","namespace":"default","name":"ds-1","object":{"kind":"Dataset","spec":{"nodeName":"edge-1"}}}',
    frame: {
      type: 'object',
      seq: 42,
      op: 'upsert',
      kind: 'Dataset',
      namespace: 'default',
      name: 'ds-1',
      object: { kind: 'Dataset', spec: { nodeName: 'edge-1' } },
    },
  },
  {
    name: 'delete',
    dirs: ['downstream'],
    text: '{"type":"object","seq":43,"op":"delete","kind":"Model","namespace":"default","name":"m-1"}',
    frame: { type: 'object', seq: 43, op: 'delete', kind: 'Model', namespace: 'default', name: 'm-1' },
  },
  {
    name: 'sync-begin',
    dirs: ['downstream'],
    text: '{"type":"sync-begin","seq":1,"syncId":"s-1"}',
    frame: { type: 'sync-begin', seq: 1, syncId: 's-1' },
  },
  {
    name: 'sync-end',
    dirs: ['downstream'],
    text: '{"type":"sync-end","seq":9,"syncId":"s-1","objects":7}',
    frame: { type: 'sync-end', seq: 9, syncId: 's-1', objects: 7 },
  },
  {
    name: 'ack of downstream seq',
    dirs: ['upstream'],
    text: '{"type":"ack","seq":43}',
    frame: { type: 'ack', seq: 43 },
  },
  {
    name: 'ack of a report',
    dirs: ['downstream'],
    text: '{"type":"ack","reportId":{"instance":"lc-7f3a","seq":12}}',
    frame: { type: 'ack', reportId: rid },
  },
  {
    name: 'report',
    dirs: ['upstream'],
    text: '{"type":"report","id":{"instance":"lc-7f3a","seq":12},"kind":"Dataset","namespace":"default","name":"ds-1","status":{"numberOfSamples":42},"reportedAt":"2025-01-02T03:04:05.678Z"}',
    frame: {
      type: 'report',
      id: rid,
      kind: 'Dataset',
      namespace: 'default',
      name: 'ds-1',
      status: { numberOfSamples: 42 },
      reportedAt: '2025-01-02T03:04:05.678Z',
    },
  },
  {
    name: 'nack',
    dirs: ['downstream'],
    text: '{"type":"nack","reportId":{"instance":"lc-7f3a","seq":12},"code":"NOT_FOUND","reason":"object deleted","retryable":false}',
    frame: { type: 'nack', reportId: rid, code: 'NOT_FOUND', reason: 'object deleted', retryable: false },
  },
  {
    name: 'ping',
    dirs: ['upstream', 'downstream'],
    text: '{"type":"ping","nonce":7,"deadlineMs":5000}',
    frame: { type: 'ping', nonce: 7, deadlineMs: 5000 },
  },
  {
    name: 'pong',
    dirs: ['upstream', 'downstream'],
    text: '{"type":"pong","nonce":7}',
    frame: { type: 'pong', nonce: 7 },
  },
  {
    name: 'resync-request',
    dirs: ['upstream'],
    text: '{"type":"resync-request","reason":"store corrupted"}',
    frame: { type: 'resync-request', reason: 'store corrupted' },
  },
  {
    name: 'credit',
    dirs: ['upstream', 'downstream'],
    text: '{"type":"credit","frames":32}',
    frame: { type: 'credit', frames: 32 },
  },
];

for (const c of golden) {
  test(`fedmesh golden encode: ${c.name}`, () => assert.equal(encodeFedmeshFrame(c.frame), c.text));
  for (const direction of c.dirs) {
    test(`fedmesh golden decode ${direction}: ${c.name}`, () => {
      assert.deepEqual(decodeFedmeshFrame(c.text, { ...opts, direction }), c.frame);
      assert.deepEqual(decodeFedmeshFrame(Buffer.from(`${c.text}\n`), { ...opts, direction }), c.frame);
    });
  }
}

const bad: Array<{ name: string; direction: Dir; text: string; code: WireErrorCode }> = [
  { name: 'truncated JSON', direction: 'upstream', text: '{"type":"ack"', code: 'ERR_MALFORMED_JSON' },
  { name: 'array', direction: 'downstream', text: '[{"type":"ack"}]', code: 'ERR_MALFORMED_JSON' },
  { name: 'missing type', direction: 'upstream', text: '{"seq":1}', code: 'ERR_SCHEMA' },
  { name: 'numeric type', direction: 'upstream', text: '{"type":1}', code: 'ERR_SCHEMA' },
  { name: 'unknown type', direction: 'upstream', text: '{"type":"subscribe"}', code: 'ERR_UNKNOWN_FRAME_TYPE' },
  {
    name: 'prototype key as type',
    direction: 'upstream',
    text: '{"type":"constructor"}',
    code: 'ERR_UNKNOWN_FRAME_TYPE',
  },
  { name: 'welcome sent upstream', direction: 'upstream', text: golden[2]?.text ?? '', code: 'ERR_DIRECTION' },
  { name: 'hello sent downstream', direction: 'downstream', text: golden[0]?.text ?? '', code: 'ERR_DIRECTION' },
  { name: 'object sent upstream', direction: 'upstream', text: golden[3]?.text ?? '', code: 'ERR_DIRECTION' },
  { name: 'report sent downstream', direction: 'downstream', text: golden[9]?.text ?? '', code: 'ERR_DIRECTION' },
  { name: 'report ack sent upstream', direction: 'upstream', text: golden[8]?.text ?? '', code: 'ERR_DIRECTION' },
  { name: 'seq ack sent downstream', direction: 'downstream', text: '{"type":"ack","seq":3}', code: 'ERR_DIRECTION' },
  { name: 'ack with neither body', direction: 'upstream', text: '{"type":"ack"}', code: 'ERR_SCHEMA' },
  {
    name: 'unknown kind',
    direction: 'downstream',
    text: '{"type":"object","seq":1,"op":"delete","kind":"Pod","namespace":"a","name":"b"}',
    code: 'ERR_UNKNOWN_KIND',
  },
  {
    name: 'Sedna spelling of a kind',
    direction: 'upstream',
    text: '{"type":"report","id":{"instance":"i","seq":1},"kind":"dataset","namespace":"a","name":"b","status":{},"reportedAt":"2025-01-01T00:00:00Z"}',
    code: 'ERR_UNKNOWN_KIND',
  },
  {
    name: 'unknown op',
    direction: 'downstream',
    text: '{"type":"object","seq":1,"op":"patch","kind":"Model","namespace":"a","name":"b"}',
    code: 'ERR_UNKNOWN_OPERATION',
  },
  {
    name: 'upsert without object',
    direction: 'downstream',
    text: '{"type":"object","seq":1,"op":"upsert","kind":"Model","namespace":"a","name":"b"}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'delete carrying an object',
    direction: 'downstream',
    text: '{"type":"object","seq":1,"op":"delete","kind":"Model","namespace":"a","name":"b","object":{}}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'object as base64 string',
    direction: 'downstream',
    text: '{"type":"object","seq":1,"op":"upsert","kind":"Model","namespace":"a","name":"b","object":"e30="}',
    code: 'ERR_SCHEMA',
  },
  { name: 'extra field', direction: 'upstream', text: '{"type":"ack","seq":1,"x":1}', code: 'ERR_SCHEMA' },
  { name: '__proto__ field', direction: 'upstream', text: '{"type":"ack","seq":1,"__proto__":{}}', code: 'ERR_SCHEMA' },
  { name: 'seq 0', direction: 'upstream', text: '{"type":"ack","seq":0}', code: 'ERR_SCHEMA' },
  { name: 'fractional seq', direction: 'upstream', text: '{"type":"ack","seq":1.5}', code: 'ERR_SCHEMA' },
  { name: 'seq beyond 2^53', direction: 'upstream', text: '{"type":"ack","seq":9007199254740993}', code: 'ERR_SCHEMA' },
  { name: 'seq as string', direction: 'upstream', text: '{"type":"ack","seq":"1"}', code: 'ERR_SCHEMA' },
  {
    name: 'hello without stream but with a seq',
    direction: 'upstream',
    text: '{"type":"hello","node":"n","lcVersion":"1","instance":"i","stream":null,"lastDownstreamSeq":5,"credit":1}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'welcome with timeout not above interval',
    direction: 'downstream',
    text: '{"type":"welcome","replica":"r","stream":"s","mode":"resync","nextSeq":1,"heartbeatIntervalMs":5000,"heartbeatTimeoutMs":5000,"credit":1}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'welcome with unknown mode',
    direction: 'downstream',
    text: '{"type":"welcome","replica":"r","stream":"s","mode":"replay","nextSeq":1,"heartbeatIntervalMs":5000,"heartbeatTimeoutMs":9000,"credit":1}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'nack code in lower case',
    direction: 'downstream',
    text: '{"type":"nack","reportId":{"instance":"i","seq":1},"code":"conflict","reason":"","retryable":true}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'report with a bad timestamp',
    direction: 'upstream',
    text: '{"type":"report","id":{"instance":"i","seq":1},"kind":"Model","namespace":"a","name":"b","status":{},"reportedAt":"yesterday"}',
    code: 'ERR_SCHEMA',
  },
  { name: 'credit 0', direction: 'downstream', text: '{"type":"credit","frames":0}', code: 'ERR_SCHEMA' },
  {
    name: 'ping deadline too short',
    direction: 'downstream',
    text: '{"type":"ping","nonce":1,"deadlineMs":1}',
    code: 'ERR_SCHEMA',
  },
  {
    name: 'nesting bomb',
    direction: 'downstream',
    text: `{"type":"credit","x":${'['.repeat(200)}${']'.repeat(200)}}`,
    code: 'ERR_MALFORMED_JSON',
  },
  {
    name: '10 MiB frame',
    direction: 'downstream',
    text: `{"type":"credit","x":"${'x'.repeat(10 * 1024 * 1024)}"}`,
    code: 'ERR_FRAME_TOO_LARGE',
  },
];

for (const c of bad) {
  test(`fedmesh decode rejects: ${c.name}`, () => {
    assert.throws(
      () => decodeFedmeshFrame(c.text, { ...opts, direction: c.direction }),
      (err: unknown) => err instanceof WireError && err.code === c.code,
    );
  });
}

const unencodable: Array<{ name: string; frame: unknown }> = [
  { name: 'unknown type', frame: { type: 'subscribe' } },
  { name: 'not an object', frame: null },
  { name: 'missing field', frame: { type: 'pong' } },
  { name: 'delete with object', frame: { ...golden[4]?.frame, object: {} } },
  { name: 'cyclic object', frame: { ...golden[3]?.frame, object: cyclic() } },
  { name: 'broken hello rule', frame: { ...golden[0]?.frame, lastDownstreamSeq: 3 } },
];
for (const c of unencodable) {
  test(`fedmesh encode rejects: ${c.name}`, () => {
    assert.throws(() => encodeFedmeshFrame(c.frame as FedmeshFrame), { name: 'WireError', code: 'ERR_SCHEMA' });
  });
}

function cyclic(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
}
