/**
 * Session frames (binary, big-endian), carried on a tunnel stream after its JSON header:
 *
 *   DATA  0x01  offset:u64  length:u32  payload      bytes [offset, offset+length) of the sender's output
 *   ACK   0x02  offset:u64  flags:u8                 received everything below offset; flag 1 = got FIN
 *   FIN   0x03  offset:u64                           the sender's output ends at offset
 *   RESET 0x04  length:u16  reason (UTF-8)           the session is over, abnormally
 *
 * Offsets count bytes of one direction from the start of the session, across every path it used;
 * they are what lets a session resume on a new stream from the last acknowledged byte.
 */
import { MAX_DATA_FRAME } from '../../constants.ts';
import { MeshError } from '../../errors.ts';

export const DATA = 1;
export const ACK = 2;
export const FIN = 3;
export const RESET = 4;

export type Frame =
  /** `parts`: the payload as it lies in the received chunks (not joined: no copy), `length` bytes in all. */
  | { type: typeof DATA; offset: number; length: number; parts: Uint8Array[] }
  | { type: typeof ACK; offset: number; fin: boolean }
  | { type: typeof FIN; offset: number }
  | { type: typeof RESET; reason: string };

const MAX_REASON = 512;

/** The 13-byte head of a DATA frame; the payload follows it on the wire (sent without copying). */
export function encodeDataHeader(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(13);
  const v = new DataView(out.buffer);
  v.setUint8(0, DATA);
  v.setBigUint64(1, BigInt(offset));
  v.setUint32(9, length);
  return out;
}

export function encodeData(offset: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(13 + payload.length);
  out.set(encodeDataHeader(offset, payload.length));
  out.set(payload, 13);
  return out;
}

export function encodeAck(offset: number, fin: boolean): Uint8Array {
  const out = new Uint8Array(10);
  const v = new DataView(out.buffer);
  v.setUint8(0, ACK);
  v.setBigUint64(1, BigInt(offset));
  v.setUint8(9, fin ? 1 : 0);
  return out;
}

export function encodeFin(offset: number): Uint8Array {
  const out = new Uint8Array(9);
  const v = new DataView(out.buffer);
  v.setUint8(0, FIN);
  v.setBigUint64(1, BigInt(offset));
  return out;
}

export function encodeReset(reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason.slice(0, MAX_REASON));
  const out = new Uint8Array(3 + text.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, RESET);
  v.setUint16(1, text.length);
  out.set(text, 3);
  return out;
}

const protocolError = (why: string) => new MeshError('ERR_SESSION_PROTOCOL', `bad session frame: ${why}`);

/**
 * Incremental decoder: feed it chunks as they arrive, take whole frames out. DATA payloads are
 * returned as views of the chunks they lie in (no copy, even across chunks).
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Bytes buffered but not yet decoded. */
  get buffered(): number {
    return this.length;
  }

  /** The next whole frame, or undefined if more bytes are needed. Throws ERR_SESSION_PROTOCOL. */
  next(): Frame | undefined {
    if (this.length < 1) return undefined;
    const type = this.peekByte();
    let need: number;
    switch (type) {
      case DATA: {
        if (this.length < 13) return undefined;
        const head = this.peek(13);
        const len = new DataView(head.buffer, head.byteOffset, 13).getUint32(9);
        if (len === 0 || len > MAX_DATA_FRAME) throw protocolError(`DATA length ${len}`);
        need = 13 + len;
        break;
      }
      case ACK:
        need = 10;
        break;
      case FIN:
        need = 9;
        break;
      case RESET: {
        if (this.length < 3) return undefined;
        const head = this.peek(3);
        const len = new DataView(head.buffer, head.byteOffset, 3).getUint16(1);
        if (len > MAX_REASON) throw protocolError(`RESET reason length ${len}`);
        need = 3 + len;
        break;
      }
      default:
        throw protocolError(`unknown type ${type}`);
    }
    if (this.length < need) return undefined;
    if (type === DATA) {
      const head = this.take(13);
      const v = new DataView(head.buffer, head.byteOffset, 13);
      const offset = Number(v.getBigUint64(1));
      if (!Number.isSafeInteger(offset)) throw protocolError('offset beyond 2^53');
      const length = need - 13;
      return { type, offset, length, parts: this.takeParts(length) };
    }
    const bytes = this.take(need);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const offset = type === RESET ? 0 : Number(v.getBigUint64(1));
    if (!Number.isSafeInteger(offset)) throw protocolError('offset beyond 2^53');
    switch (type) {
      case ACK:
        return { type, offset, fin: (v.getUint8(9) & 1) === 1 };
      case FIN:
        return { type, offset };
      default:
        return { type: RESET, reason: new TextDecoder().decode(bytes.subarray(3)) };
    }
  }

  private peekByte(): number {
    return (this.chunks[0] as Uint8Array)[0] as number;
  }

  /** The first n bytes (n ≤ length) without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  /** Consumes n bytes (n ≤ length) as views of the chunks they lie in. */
  private takeParts(n: number): Uint8Array[] {
    const parts: Uint8Array[] = [];
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0] as Uint8Array;
      if (c.length <= n) {
        parts.push(c);
        this.chunks.shift();
        n -= c.length;
      } else {
        parts.push(c.subarray(0, n));
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    return parts;
  }

  /** Consumes n bytes (n ≤ length). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    this.length -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0] as Uint8Array;
      const want = n - at;
      if (c.length <= want) {
        out.set(c, at);
        at += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), at);
        this.chunks[0] = c.subarray(want);
        at += want;
      }
    }
    return out;
  }
}
