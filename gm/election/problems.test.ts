import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { KubeApiError } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createProblemReporter, failureReason, type LeaseOp } from './problems.ts';

const notFound = () => new KubeApiError(404, 'NotFound', '404 NotFound: namespaces "sedna" not found');
const forbidden = () => new KubeApiError(403, 'Forbidden', '403 Forbidden: leases is forbidden');
const conflict = () => new KubeApiError(409, 'Conflict', '409 Conflict: the object has been modified');
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
const timeout = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });

const reasons: Array<{ name: string; err: unknown; reason: string }> = [
  { name: 'API error', err: notFound(), reason: 'NotFound' },
  { name: 'conflict', err: conflict(), reason: 'Conflict' },
  { name: 'aborted request', err: timeout(), reason: 'Timeout' },
  { name: 'socket error', err: refused(), reason: 'ECONNREFUSED' },
  { name: 'anything else', err: new TypeError('x'), reason: 'TypeError' },
];
for (const c of reasons) {
  test(`failureReason: ${c.name}`, () => assert.equal(failureReason(c.err), c.reason));
}

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const failures: string[] = [];
  const reporter = createProblemReporter(
    { namespace: 'sedna' },
    { log: createLogger({ component: 'test', level: 'info', destination }), onFailure: (r) => failures.push(r) },
  );
  const warnings = () => lines.filter((l) => l.level === 40).map((l) => l.msg);
  return { reporter, lines, failures, warnings };
}

test('a missing lease namespace: one warning however many retries, the problem until an attempt succeeds', () => {
  const { reporter, lines, failures, warnings } = setup();
  for (let i = 0; i < 5; i++) reporter.failed(notFound(), 'create');
  assert.deepEqual(warnings(), ['lease namespace not found; retrying']);
  assert.equal(lines[0]?.namespace, 'sedna');
  assert.equal(lines[0]?.status, 404);
  assert.equal(lines[0]?.reason, 'NotFound');
  assert.deepEqual(failures, ['NotFound', 'NotFound', 'NotFound', 'NotFound', 'NotFound']);
  assert.deepEqual(reporter.current(), {
    op: 'create',
    status: 404,
    reason: 'NotFound',
    message: '404 NotFound: namespaces "sedna" not found',
  });
  reporter.succeeded();
  assert.equal(reporter.current(), undefined);
  assert.equal(lines.at(-1)?.msg, 'lease requests succeed again');
  // Back again later: said again.
  reporter.failed(notFound(), 'create');
  assert.equal(warnings().length, 2);
});

test('each distinct failure is told once; conflicts are contention, not problems', () => {
  const { reporter, warnings } = setup();
  const seq: Array<[unknown, LeaseOp]> = [
    [forbidden(), 'get'],
    [forbidden(), 'get'],
    [refused(), 'get'],
    [refused(), 'get'],
    [forbidden(), 'update'],
  ];
  for (const [err, op] of seq) reporter.failed(err, op);
  assert.deepEqual(warnings(), [
    'lease request refused by the api server; retrying',
    'lease request failed; retrying',
    'lease request refused by the api server; retrying',
  ]);
  // A socket error says nothing about the Lease: the last refusal stands.
  reporter.failed(refused(), 'get');
  assert.equal(reporter.current()?.op, 'update');
  reporter.failed(conflict(), 'update');
  assert.equal(reporter.current(), undefined);
  assert.equal(warnings().length, 3);
});
