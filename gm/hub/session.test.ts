import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE, decodeFedmeshFrame, decodeSednaDownstream, encodeSednaFrame } from '../../common/wire/index.ts';
import { closeReason, fedmeshDelete, fedmeshUpsert, sednaDelete, sednaInsert } from './session.ts';
import { createStream } from './stream.ts';
import { createWorld, ds } from './testing.ts';

const obj = {
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'Dataset',
  metadata: { name: 'd.1', namespace: 'ns', resourceVersion: '7' },
  spec: { url: '<&>', nodeName: 'n1' },
};
const opts = { maxBytes: 1 << 20 };

test('encodings: the hand-built fedmesh upsert and delete decode as the codec defines them', () => {
  assert.deepEqual(decodeFedmeshFrame(fedmeshUpsert(3, 'Dataset', obj), { ...opts, direction: 'downstream' }), {
    type: 'object',
    seq: 3,
    op: 'upsert',
    kind: 'Dataset',
    namespace: 'ns',
    name: 'd.1',
    object: obj,
  });
  assert.deepEqual(decodeFedmeshFrame(fedmeshDelete(4, 'Dataset', 'ns', 'd.1'), { ...opts, direction: 'downstream' }), {
    type: 'object',
    seq: 4,
    op: 'delete',
    kind: 'Dataset',
    namespace: 'ns',
    name: 'd.1',
  });
});

test('encodings: Sedna insert and delete are the codec bytes, cached per object version', () => {
  const header = { namespace: 'ns', resourceKind: 'dataset' as const, resourceName: 'd.1' };
  const insert = sednaInsert('Dataset', obj);
  assert.equal(
    insert.toString(),
    encodeSednaFrame({ type: 'message', header: { ...header, operation: 'insert' }, content: obj }),
  );
  assert.equal(sednaInsert('Dataset', obj), insert, 'the same Buffer for the same object');
  assert.deepEqual(decodeSednaDownstream(sednaDelete('Dataset', 'ns', 'd.1'), opts), {
    type: 'message',
    header: { ...header, operation: 'delete' },
    content: null,
  });
});

test('close reasons: code reason plus detail, ASCII, at most 123 bytes', () => {
  assert.equal(closeReason(CLOSE.MALFORMED, 'ERR_BAD_BASE64'), 'malformed frame: ERR_BAD_BASE64');
  assert.equal(closeReason(CLOSE.FORBIDDEN), 'forbidden');
  const long = closeReason(CLOSE.FORBIDDEN, `é${'x'.repeat(300)}`);
  assert.equal(Buffer.byteLength(long), 123);
  assert.match(long, /^forbidden: \?x+\.\.\.$/);
});

test('stream: seqs, acks trim the log, resume only outside an unfinished snapshot', () => {
  const w = createWorld();
  w.put('Dataset', ds('a', 'n1'));
  const st = createStream('r1', 'n1', { router: w.router, cache: w.lookup });
  assert.match(st.id, /^r1\//);
  st.feed.startSnapshot();
  assert.equal(st.canResume(0), true, 'nothing sent yet');
  const texts = [st.nextFrame(), st.nextFrame()];
  assert.deepEqual(
    texts.map((x) => JSON.parse(String(x ?? '{}')).type),
    ['sync-begin', 'object'],
  );
  assert.equal(st.canResume(1), false, 'inside the snapshot');
  assert.equal(JSON.parse(String(st.nextFrame() ?? '{}')).type, 'sync-end');
  assert.equal(st.nextFrame(), undefined);
  assert.equal(st.canResume(3), true);
  assert.equal(st.canResume(4), false, 'never sent');
  assert.equal(st.ack(2), true);
  assert.deepEqual(
    st.log.map((e) => e.seq),
    [3],
  );
  assert.equal(st.canResume(1), false, 'acked frames are gone from the log');
  assert.equal(st.ack(9), false, 'an ack beyond what was sent is a violation');
});
