/**
 * The one S3 call the LC needs: a SigV4-signed, path-style GET of an object (a dataset's index file).
 * Credentials come from a mounted directory (docs/lc.md): `<dir>/<namespace>/<secret>/` holding the
 * keys of Sedna's storage Secret, `ACCESS_KEY_ID`, `SECRET_ACCESS_KEY`, and `S3_ENDPOINT`.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FedmeshError } from '../../common/errors.ts';
import { S3_REGION, S3_TIMEOUT_MS } from '../constants.ts';

/** A dataset's source cannot be read (missing credentials, bad URL, S3 or file error); retried next period. */
export class SourceError extends FedmeshError {
  constructor(
    code: 'ERR_SOURCE_URL' | 'ERR_SOURCE_CREDENTIALS' | 'ERR_SOURCE_READ',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, code, options);
    this.name = 'SourceError';
  }
}

export interface S3Credentials {
  /** `http(s)://host[:port]`, path-style buckets under it. */
  endpoint: URL;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Reads `<dir>/<namespace>/<name>/{ACCESS_KEY_ID,SECRET_ACCESS_KEY,S3_ENDPOINT[,S3_USE_HTTPS,S3_REGION]}`.
 * `S3_ENDPOINT` is a URL or, as Sedna's `s3-endpoint` annotation, `host:port` with https unless
 * `S3_USE_HTTPS` is `0`. Namespaced so a Dataset can only name its own namespace's Secrets.
 */
export function readS3Credentials(dir: string | undefined, namespace: string, name: string): S3Credentials {
  if (dir === undefined) {
    throw new SourceError('ERR_SOURCE_CREDENTIALS', `credential ${name} named, but the LC has no --credentials-dir`);
  }
  if (!SECRET_NAME.test(name) || !SECRET_NAME.test(namespace)) {
    throw new SourceError('ERR_SOURCE_CREDENTIALS', `credentialName "${name.slice(0, 64)}" is not a Secret name`);
  }
  const base = join(dir, namespace, name);
  const key = (k: string, optional = false) => {
    try {
      return readFileSync(join(base, k), 'utf8').trim();
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SourceError('ERR_SOURCE_CREDENTIALS', `cannot read ${k} of credential ${namespace}/${name}`, {
        cause: err,
      });
    }
  };
  const raw = key('S3_ENDPOINT') as string;
  const scheme = key('S3_USE_HTTPS', true) === '0' ? 'http' : 'https';
  let endpoint: URL;
  try {
    endpoint = new URL(/^https?:\/\//.test(raw) ? raw : `${scheme}://${raw}`);
  } catch (err) {
    throw new SourceError('ERR_SOURCE_CREDENTIALS', `S3_ENDPOINT of ${namespace}/${name} is not an endpoint`, {
      cause: err,
    });
  }
  return {
    endpoint,
    accessKeyId: key('ACCESS_KEY_ID') as string,
    secretAccessKey: key('SECRET_ACCESS_KEY') as string,
    region: key('S3_REGION', true) || S3_REGION,
  };
}

/** `s3://bucket/key` → its parts; undefined when not such a URL. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1] as string, key: m[2] as string } : undefined;
}

// RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 requires.
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();

export const EMPTY_SHA256 = sha256('');

export interface SignInput {
  method: string;
  /** Host header value (with the port when not the scheme's default). */
  host: string;
  /** Already-encoded absolute path. */
  path: string;
  /** Headers to sign besides host, x-amz-date and x-amz-content-sha256 (lowercase names). */
  headers?: Record<string, string>;
  /** `YYYYMMDDTHHMMSSZ`. */
  amzDate: string;
  payloadSha256: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The SigV4 headers of a request with no query string (AWS Signature Version 4, service s3). */
export function signV4(i: SignInput): Record<string, string> {
  const headers: Record<string, string> = {
    ...i.headers,
    host: i.host,
    'x-amz-content-sha256': i.payloadSha256,
    'x-amz-date': i.amzDate,
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    i.method,
    i.path,
    '',
    ...names.map((n) => `${n}:${(headers[n] as string).trim()}`),
    '',
    names.join(';'),
    i.payloadSha256,
  ].join('\n');
  const day = i.amzDate.slice(0, 8);
  const scope = `${day}/${i.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', i.amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${i.secretAccessKey}`, day), i.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...rest } = headers;
  return {
    ...rest,
    authorization: `AWS4-HMAC-SHA256 Credential=${i.accessKeyId}/${scope},SignedHeaders=${names.join(';')},Signature=${signature}`,
  };
}

/** GETs `bucket/key` (path-style); the body streams. Throws SourceError for anything but 200. */
export async function s3Get(c: S3Credentials, bucket: string, key: string, signal: AbortSignal) {
  const path = `${c.endpoint.pathname.replace(/\/$/, '')}/${encode(bucket)}/${key.split('/').map(encode).join('/')}`;
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const headers = signV4({
    method: 'GET',
    host: c.endpoint.host,
    path,
    amzDate,
    payloadSha256: EMPTY_SHA256,
    region: c.region,
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
  });
  const url = new URL(path, c.endpoint);
  let r: Response;
  try {
    r = await fetch(url, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(S3_TIMEOUT_MS)]) });
  } catch (err) {
    throw new SourceError('ERR_SOURCE_READ', `GET s3://${bucket}/${key} failed`, { cause: err });
  }
  if (r.status !== 200 || !r.body) {
    await r.body?.cancel();
    throw new SourceError('ERR_SOURCE_READ', `GET s3://${bucket}/${key}: HTTP ${r.status}`);
  }
  return r.body;
}
