/**
 * Length-prefixed messages on libp2p streams: a u32 big-endian length, then the bytes. Used for
 * the one header (or record) that starts each fedmesh stream; whatever the peer sent after it is
 * put back on the stream for the next reader (the tunnel's session frames).
 */
import type { Stream } from '@libp2p/interface';
import { MeshError } from './errors.ts';

const toBytes = (c: Uint8Array | { subarray(): Uint8Array }): Uint8Array =>
  c instanceof Uint8Array ? c : c.subarray();

export function frame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Sends one length-prefixed message. */
export async function writeMessage(stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!stream.send(frame(bytes))) await stream.onDrain({ signal });
}

/** Why a message could not be read: stable, for refusals and logs. */
export type ReadFailure = 'oversized' | 'truncated' | 'timeout';

export class MessageReadError extends MeshError {
  readonly failure: ReadFailure;
  constructor(failure: ReadFailure, message: string, options?: ErrorOptions) {
    super('ERR_SESSION_PROTOCOL', message, options);
    this.name = 'MessageReadError';
    this.failure = failure;
  }
}

/**
 * Reads one length-prefixed message of at most `maxBytes`. The length is checked before the body
 * is buffered, so an oversized claim costs four bytes, not `maxBytes`. Works on the stream's
 * `message` events rather than its iterator: leaving an iterator early drops messages it had
 * queued, while a removed listener leaves later data in the stream's own buffer.
 */
export function readMessage(
  stream: Stream,
  maxBytes: number,
  signal: AbortSignal,
  prefix: 'u32' | 'varint' = 'u32',
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let have = 0;
    let need = -1;
    let headLen = 4;
    const cleanup = () => {
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClose);
      stream.removeEventListener('remoteCloseWrite', onRemoteClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: MessageReadError) => {
      cleanup();
      reject(err);
    };
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => {
      chunks.push(toBytes(evt.data));
      have += (chunks.at(-1) as Uint8Array).length;
      if (need < 0) {
        const head = prefix === 'u32' ? readU32(chunks, have) : readVarint(chunks, have);
        if (head === 'bad') {
          fail(new MessageReadError('oversized', 'length prefix too long'));
          return;
        }
        if (head !== undefined) {
          [need, headLen] = head;
          if (need > maxBytes) {
            fail(new MessageReadError('oversized', `message of ${need} bytes exceeds ${maxBytes}`));
            return;
          }
        }
      }
      if (need < 0 || have < headLen + need) return;
      cleanup();
      const all = concat(chunks, have);
      const rest = all.subarray(headLen + need);
      if (rest.length > 0) stream.unshift(rest);
      resolve(all.subarray(headLen, headLen + need));
    };
    const onClose = (evt: { error?: Error }) =>
      fail(new MessageReadError('truncated', 'stream closed before a whole message arrived', { cause: evt.error }));
    const onRemoteClose = () => fail(new MessageReadError('truncated', 'stream ended before a whole message'));
    const onAbort = () => fail(new MessageReadError('timeout', 'timed out reading a message'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    stream.addEventListener('close', onClose);
    stream.addEventListener('remoteCloseWrite', onRemoteClose);
    // Added last: adding a message listener dispatches data the stream already buffered.
    stream.addEventListener('message', onMessage);
  });
}

function readU32(chunks: Uint8Array[], have: number): [number, number] | undefined {
  if (have < 4) return undefined;
  const head = concat(chunks, 4);
  return [new DataView(head.buffer, head.byteOffset, 4).getUint32(0), 4];
}

/** An unsigned varint prefix (at most 4 bytes here: messages are small), as libp2p's protobuf streams use. */
function readVarint(chunks: Uint8Array[], have: number): [number, number] | undefined | 'bad' {
  const head = concat(chunks, Math.min(have, 5));
  let value = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i] as number;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, i + 1];
    if (i === 3) return 'bad';
  }
  return undefined;
}

/** An unsigned varint. */
export function varint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  const first = chunks[0];
  if (first && first.length >= n) return first.subarray(0, n);
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, n - at);
    out.set(part, at);
    at += part.length;
    if (at === n) break;
  }
  return out;
}
