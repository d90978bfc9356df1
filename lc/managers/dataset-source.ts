/**
 * A dataset's index file, read and counted as Sedna's LC counts it (managers/dataset): one sample
 * per line as Go's bufio.Scanner splits them (blank lines count; a final line needs no newline),
 * and for csv every line after the header; an empty csv file (no header) is an error.
 * The file is streamed: an index of millions of lines is counted without holding it.
 */
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { parseS3Url, readS3Credentials, SourceError, s3Get } from './s3.ts';

export const FORMATS = ['txt', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(format: string): Format | undefined {
  const f = format.toLowerCase();
  return (FORMATS as readonly string[]).includes(f) ? (f as Format) : undefined;
}

/** Lines as bufio.Scanner yields them: newlines, plus one for a last line without its newline. */
export async function countLines(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let lines = 0;
  let last = -1;
  for await (const chunk of chunks) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1] as number;
  }
  return last !== -1 && last !== 10 ? lines + 1 : lines;
}

export function samplesOf(lines: number, format: Format): number {
  if (format === 'txt') return lines;
  if (lines === 0) throw new SourceError('ERR_SOURCE_READ', 'the csv index file is empty: no header');
  return lines - 1;
}

/** Where a dataset's index is: a file under the node's root-fs mount, or an S3 object. */
export type Source = { local: string } | { s3: { bucket: string; key: string; credential?: string } };

/**
 * `spec.url` → its source. A path is taken relative to the node's `/` and joined under `rootfs`
 * (`..` cannot climb out of the mount); `s3://bucket/key` is S3; any other scheme is refused.
 */
export function sourceOf(url: string, rootfs: string, credential?: string): Source {
  const s3 = parseS3Url(url);
  if (s3) return { s3: { ...s3, credential } };
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url === '') {
    throw new SourceError('ERR_SOURCE_URL', `dataset url "${url.slice(0, 200)}" is neither a path nor s3://bucket/key`);
  }
  return { local: posix.join(rootfs, posix.resolve('/', url)) };
}

export interface ReadInit {
  namespace: string;
  credentialsDir?: string;
  signal: AbortSignal;
}

/** The number of lines of the source's index file. Throws SourceError. */
export async function readLines(source: Source, init: ReadInit): Promise<number> {
  if ('local' in source) {
    try {
      return await countLines(createReadStream(source.local, { signal: init.signal }));
    } catch (err) {
      if (init.signal.aborted) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new SourceError('ERR_SOURCE_READ', `cannot read ${source.local}: ${code}`, { cause: err });
    }
  }
  const { bucket, key, credential } = source.s3;
  if (credential === undefined) {
    throw new SourceError('ERR_SOURCE_CREDENTIALS', `s3://${bucket}/${key} needs spec.credentialName`);
  }
  const creds = readS3Credentials(init.credentialsDir, init.namespace, credential);
  const body = await s3Get(creds, bucket, key, init.signal);
  try {
    return await countLines(body);
  } catch (err) {
    if (init.signal.aborted) throw err;
    throw new SourceError('ERR_SOURCE_READ', `reading s3://${bucket}/${key} failed`, { cause: err });
  }
}
