/**
 * The sending half of a session: the application's bytes held until the peer acknowledges them
 * (outbox.ts), write backpressure beyond `bufferBytes`, the end of our output (FIN), and the next
 * frame to transmit on the current path. Offsets are absolute, as in outbox.ts.
 */
import { Uint8ArrayList } from 'uint8arraylist';
import { encodeDataHeader, encodeFin } from './codec.ts';
import { Outbox } from './outbox.ts';
import type { Chunk } from './path.ts';

/**
 * DATA payload per frame: a session frame (13-byte head) inside a yamux data frame (12-byte head)
 * then fills one noise message (65535 bytes less its 16-byte tag) exactly — one encryption per
 * frame, where 64 KiB payloads took two (one of them a few dozen bytes).
 */
export const FRAME_PAYLOAD = 65_535 - 16 - 12 - 13;

export class Sender {
  /** Everything below this offset is acknowledged by the peer (and released). */
  acked = 0;
  /** The application ended its output; our FIN is at `finOffset`. */
  ended = false;
  finOffset = 0;
  /** The peer acknowledged our FIN. */
  finAcked = false;

  private readonly bufferBytes: number;
  // [acked, out.end) is held for replay; [acked, out.position) is in flight.
  private readonly out = new Outbox();
  private finSentOnPath = false;
  private writeWaiter: ((err?: Error | null) => void) | undefined;

  constructor(bufferBytes: number) {
    this.bufferBytes = bufferBytes;
  }

  /** Bytes the application wrote so far. */
  get written(): number {
    return this.out.end;
  }

  /** Bytes transmitted on the current path (or before it, and acknowledged). */
  get sent(): number {
    return this.out.position;
  }

  /** Unacknowledged bytes held for replay. */
  get unacked(): number {
    return this.out.end - this.acked;
  }

  /** A write is waiting for acknowledgements. */
  get blocked(): boolean {
    return this.writeWaiter !== undefined;
  }

  push(chunk: Uint8Array): void {
    this.out.push(chunk);
  }

  /** Completes a write: now, or once acknowledgements bring the replay buffer back within bounds. */
  admit(cb: (err?: Error | null) => void): void {
    if (this.unacked > this.bufferBytes) this.writeWaiter = cb;
    else cb();
  }

  /** The application's output ends here. */
  end(): void {
    this.ended = true;
    this.finOffset = this.out.end;
  }

  /** The peer has every byte below `offset` (at most `written`: the session checks). */
  ack(offset: number): void {
    if (offset <= this.acked) return;
    this.acked = offset;
    this.out.release(offset);
    if (this.writeWaiter && this.unacked <= this.bufferBytes) {
      const cb = this.writeWaiter;
      this.writeWaiter = undefined;
      cb();
    }
  }

  /** The peer acknowledged receiving our FIN at `offset`. */
  finAck(offset: number): void {
    if (this.ended && offset === this.finOffset) this.finAcked = true;
  }

  /** A new path: transmit again from the first unacknowledged byte, FIN included. */
  rewind(): void {
    this.out.seek(this.acked);
    this.finSentOnPath = false;
  }

  /** Something is left to transmit on this path. */
  pending(): boolean {
    return this.out.position < this.out.end || this.finDue();
  }

  /** The next frame to transmit (DATA, else our FIN once everything before it went), if any. */
  next(): Chunk | undefined {
    if (this.out.position < this.out.end) {
      const at = this.out.position;
      const parts: Uint8Array[] = [];
      const n = this.out.takeParts(FRAME_PAYLOAD, parts);
      // Head and payload as a list: the payload is the application's own buffers, not a copy.
      // (Lists are recognised across uint8arraylist versions by a global symbol.)
      return new Uint8ArrayList(encodeDataHeader(at, n), ...parts) as unknown as Chunk;
    }
    if (this.finDue()) {
      this.finSentOnPath = true;
      return encodeFin(this.finOffset);
    }
    return undefined;
  }

  /** The session failed: a write waiting for room gets the error. */
  fail(err: Error): void {
    const waiter = this.writeWaiter;
    this.writeWaiter = undefined;
    waiter?.(err);
  }

  private finDue(): boolean {
    return this.ended && !this.finSentOnPath && this.out.position === this.finOffset;
  }
}
