import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { addSetCookie, cookieOf, cookieToken, parseRequestHead } from './http.ts';
import { createBalancer } from './lb.ts';

test('request heads: HTTP/1.x only, names lower case, repeated headers joined, cookies found', () => {
  const h = parseRequestHead('GET /a HTTP/1.1\r\nHost: x\r\nX-User: ann\r\nCookie: a=1\r\ncookie: sid=2; b=3\r\n');
  assert.equal(h?.get('x-user'), 'ann');
  assert.equal(h && cookieOf(h, 'sid'), '2');
  assert.equal(h && cookieOf(h, 'a'), '1');
  assert.equal(h && cookieOf(h, 'none'), undefined);
  assert.equal(parseRequestHead('PRI * HTTP/2.0\r\n\r\nSM\r\n'), undefined, 'h2c preface is not HTTP/1.x');
  assert.equal(parseRequestHead('\x16\x03\x01\x02\x00'), undefined, 'TLS is not HTTP');
});

test('Set-Cookie is added to the first response head only, split across chunks or not', async () => {
  const run = async (chunks: string[]) => {
    let out = '';
    for await (const c of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(addSetCookie('sid=abc; Path=/')))
      out += c;
    return out;
  };
  const resp = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const want =
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: sid=abc; Path=/\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  assert.equal(await run([resp]), want);
  assert.equal(await run([resp.slice(0, 10), resp.slice(10, 30), resp.slice(30)]), want);
  assert.equal(await run(['\x16\x03\x01binary-not-http\r\n\r\nrest']), '\x16\x03\x01binary-not-http\r\n\r\nrest');
});

test('header and cookie hashes: a header value sticks; our cookie names its endpoint; absent, round robin', () => {
  const cands = ['a', 'b', 'c'].map((id) => ({ id, locality: 'lan' as const }));
  const header = createBalancer({ policy: { consistentHash: { httpHeaderName: 'X-User' } } });
  for (const user of ['ann', 'bob', 'cy', 'dee']) {
    const first = header.pick(cands, '10.0.0.1', new Map([['x-user', user]]))[0]?.id;
    for (let i = 0; i < 5; i++) {
      assert.equal(header.pick(cands, `10.0.0.${i}`, new Map([['x-user', user]]))[0]?.id, first, user);
    }
  }
  assert.deepEqual(
    [1, 2, 3].map(() => header.pick(cands, '10.0.0.1', new Map())[0]?.id),
    ['a', 'b', 'c'],
    'no header: round robin',
  );
  const cookie = createBalancer({ policy: { consistentHash: { httpCookie: { name: 'sid' } } } });
  for (const c of cands) {
    const headers = new Map([['cookie', `other=1; sid=${cookieToken(c.id)}`]]);
    assert.equal(cookie.pick(cands, '10.0.0.9', headers)[0]?.id, c.id, 'the issued cookie leads back to its endpoint');
  }
  const stale = new Map([['cookie', 'sid=foreign']]);
  const id = cookie.pick(cands, '1.1.1.1', stale)[0]?.id;
  assert.equal(cookie.pick(cands, '2.2.2.2', stale)[0]?.id, id, 'a foreign value is hashed, stably');
});
