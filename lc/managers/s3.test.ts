import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { countLines, samplesOf, sourceOf } from './dataset-source.ts';
import { EMPTY_SHA256, parseS3Url, readS3Credentials, signV4 } from './s3.ts';

test('SigV4: the GET Object example of the AWS S3 documentation signs to its published signature', () => {
  const h = signV4({
    method: 'GET',
    host: 'examplebucket.s3.amazonaws.com',
    path: '/test.txt',
    headers: { range: 'bytes=0-9' },
    amzDate: '20130524T000000Z',
    payloadSha256: EMPTY_SHA256,
    region: 'us-east-1',
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  });
  assert.equal(
    h.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
      'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,' +
      'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  );
  assert.equal(h['x-amz-date'], '20130524T000000Z');
  assert.equal(h.host, undefined, 'fetch sets Host itself');
});

const lines: Array<{ name: string; chunks: string[]; want: number }> = [
  { name: 'empty', chunks: [], want: 0 },
  { name: 'one line with its newline', chunks: ['a\n'], want: 1 },
  { name: 'a last line without newline counts', chunks: ['a\nb'], want: 2 },
  { name: 'blank lines count (bufio.Scanner yields them)', chunks: ['a\n\nb\n'], want: 3 },
  { name: 'CRLF', chunks: ['a\r\nb\r\n'], want: 2 },
  { name: 'split across chunks', chunks: ['a', '\nb', '', '\n', 'c'], want: 3 },
];
for (const c of lines) {
  test(`countLines: ${c.name}`, async () => {
    assert.equal(await countLines(Readable.from(c.chunks.map((s) => Buffer.from(s)))), c.want);
  });
}

test('samplesOf: txt counts lines, csv the rows after its header, an empty csv is an error', () => {
  assert.equal(samplesOf(3, 'txt'), 3);
  assert.equal(samplesOf(3, 'csv'), 2);
  assert.equal(samplesOf(1, 'csv'), 0);
  assert.throws(() => samplesOf(0, 'csv'), { name: 'SourceError', code: 'ERR_SOURCE_READ' });
});

const sources: Array<{ name: string; url: string; want?: unknown }> = [
  {
    name: 'an absolute path goes under the mount',
    url: '/data/ds/index.txt',
    want: { local: '/rootfs/data/ds/index.txt' },
  },
  { name: 'a relative path is from /', url: 'data/i.txt', want: { local: '/rootfs/data/i.txt' } },
  { name: '.. cannot climb out of the mount', url: '/../../etc/passwd', want: { local: '/rootfs/etc/passwd' } },
  { name: 's3', url: 's3://bkt/a/b.txt', want: { s3: { bucket: 'bkt', key: 'a/b.txt', credential: 'c' } } },
  { name: 'another scheme', url: 'http://x/y' },
  { name: 'empty', url: '' },
];
for (const c of sources) {
  test(`sourceOf: ${c.name}`, () => {
    if (c.want) assert.deepEqual(sourceOf(c.url, '/rootfs', 'c'), c.want);
    else assert.throws(() => sourceOf(c.url, '/rootfs', 'c'), { name: 'SourceError', code: 'ERR_SOURCE_URL' });
  });
}

test('parseS3Url: bucket and key; a bucket alone is not an object', () => {
  assert.deepEqual(parseS3Url('s3://b/k'), { bucket: 'b', key: 'k' });
  assert.equal(parseS3Url('s3://b/'), undefined);
  assert.equal(parseS3Url('/b/k'), undefined);
});

test('readS3Credentials: <dir>/<namespace>/<secret>/KEY files; host:port endpoints are https unless S3_USE_HTTPS=0', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-creds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secret = (ns: string, name: string, keys: Record<string, string>) => {
    mkdirSync(join(dir, ns, name), { recursive: true });
    for (const [k, v] of Object.entries(keys)) writeFileSync(join(dir, ns, name, k), `${v}\n`);
  };
  secret('ns', 'plain', { ACCESS_KEY_ID: 'ak', SECRET_ACCESS_KEY: 'sk', S3_ENDPOINT: 'minio:9000', S3_USE_HTTPS: '0' });
  secret('ns', 'tls', { ACCESS_KEY_ID: 'ak', SECRET_ACCESS_KEY: 'sk', S3_ENDPOINT: 's3.example.com' });
  secret('ns', 'url', { ACCESS_KEY_ID: 'ak', SECRET_ACCESS_KEY: 'sk', S3_ENDPOINT: 'http://h:1', S3_REGION: 'eu-1' });
  secret('ns', 'partial', { ACCESS_KEY_ID: 'ak', S3_ENDPOINT: 'h:1' });
  const plain = readS3Credentials(dir, 'ns', 'plain');
  assert.deepEqual(
    [plain.endpoint.href, plain.accessKeyId, plain.secretAccessKey, plain.region],
    ['http://minio:9000/', 'ak', 'sk', 'us-east-1'],
  );
  assert.equal(readS3Credentials(dir, 'ns', 'tls').endpoint.protocol, 'https:');
  assert.equal(readS3Credentials(dir, 'ns', 'url').region, 'eu-1');
  const refused = { name: 'SourceError', code: 'ERR_SOURCE_CREDENTIALS' };
  assert.throws(() => readS3Credentials(dir, 'ns', 'partial'), refused);
  assert.throws(() => readS3Credentials(dir, 'other', 'plain'), refused, 'another namespace has its own secrets');
  assert.throws(() => readS3Credentials(dir, 'ns', '../ns'), refused);
  assert.throws(() => readS3Credentials(undefined, 'ns', 'plain'), refused);
});
