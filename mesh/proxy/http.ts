/**
 * The HTTP-aware bit of a TCP connection, for DestinationRule `consistentHash.httpHeaderName` and
 * `httpCookie`: the first HTTP/1.x request head is read before an endpoint is chosen (the bytes are
 * then sent on unchanged), and when the cookie was absent the first response head gets a
 * `Set-Cookie` naming the chosen endpoint (Envoy does the same; EdgeMesh refuses). The choice is
 * per connection: later requests on a keep-alive connection go where the first went. Anything that
 * is not HTTP/1.x (h2c, TLS) is balanced as if the key were absent.
 */
import type { Socket } from 'node:net';
import { Transform } from 'node:stream';
import { hash32 } from './hash.ts';

/** A request head larger than this is not looked into (it is forwarded as it is). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** How long the first request may take to arrive before the connection is balanced without it. */
export const HEAD_TIMEOUT_MS = 2_000;

const REQUEST_LINE = /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r\n/;
const END = Buffer.from('\r\n\r\n');

/** Header names (lower case) → values, from a head's text; undefined when it is not an HTTP/1.x request. */
export function parseRequestHead(head: string): Map<string, string> | undefined {
  if (!REQUEST_LINE.test(head)) return undefined;
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    // Repeated headers are joined, as HTTP allows (cookies with '; ').
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return headers;
}

export function cookieOf(headers: Map<string, string>, name: string): string | undefined {
  for (const part of (headers.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The cookie value that names an endpoint (stable, not its address). */
export const cookieToken = (endpointId: string) =>
  hash32(`fedmesh-endpoint|${endpointId}`).toString(16).padStart(8, '0');

/**
 * Reads from `sock` until the end of the first request head, MAX_HEAD_BYTES or HEAD_TIMEOUT_MS;
 * resolves with the bytes read (to be sent on) and the headers when it was an HTTP/1.x request.
 */
export function readRequestHead(sock: Socket): Promise<{ buffered: Buffer; headers?: Map<string, string> }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeListener('end', done);
      sock.pause();
      const buffered = Buffer.concat(chunks);
      const end = buffered.indexOf(END);
      const headers = end >= 0 ? parseRequestHead(buffered.subarray(0, end + 2).toString('latin1')) : undefined;
      resolve({ buffered, ...(headers ? { headers } : {}) });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_HEAD_BYTES || Buffer.concat(chunks).includes(END)) done();
    };
    const timer = setTimeout(done, HEAD_TIMEOUT_MS);
    sock.on('data', onData);
    sock.once('end', done);
    sock.resume();
  });
}

/** Passes a response stream through, adding `setCookie` to the first HTTP/1.x response head. */
export function addSetCookie(setCookie: string): Transform {
  let held: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!held) {
        cb(null, chunk);
        return;
      }
      held = Buffer.concat([held, chunk]);
      const end = held.indexOf(END);
      if (end < 0 && held.length < MAX_HEAD_BYTES) {
        cb();
        return;
      }
      const out = held;
      held = undefined;
      if (end < 0 || !out.subarray(0, 9).toString('latin1').startsWith('HTTP/1.')) {
        cb(null, out);
        return;
      }
      cb(
        null,
        Buffer.concat([out.subarray(0, end + 2), Buffer.from(`Set-Cookie: ${setCookie}\r\n`), out.subarray(end + 2)]),
      );
    },
    flush(cb) {
      cb(null, held?.length ? held : undefined);
    },
  });
}
