/**
 * The sending side's replay buffer: the bytes the application wrote that the peer has not
 * acknowledged, as the application's own chunks (no copying), with a cursor at the next byte to
 * transmit. Offsets are absolute (bytes since the session started).
 */
import { MAX_DATA_FRAME } from '../../constants.ts';

const EMPTY = new Uint8Array(0);

export class Outbox {
  /** Chunks from `head` on hold bytes [start, end). */
  private chunks: Uint8Array[] = [];
  private head = 0;
  private start = 0;
  /** End of the buffer: every byte the application ever wrote. */
  end = 0;
  // The cursor: chunk index and its absolute start offset, for `position`.
  private idx = 0;
  private idxStart = 0;
  /** The next byte to transmit. */
  position = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  /** Drops every byte below `offset` (acknowledged); the cursor never falls behind it. */
  release(offset: number): void {
    while (this.head < this.chunks.length) {
      const c = this.chunks[this.head] as Uint8Array;
      if (this.start + c.length > offset) break;
      this.start += c.length;
      this.chunks[this.head] = EMPTY;
      this.head++;
    }
    // Compact now and then, so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.idx -= this.head;
      this.head = 0;
    }
    if (this.position < offset) this.seek(offset);
    else if (this.idx < this.head) this.seek(this.position);
  }

  /** Moves the cursor to `offset` (a resume replays from the peer's figure). */
  seek(offset: number): void {
    this.position = offset;
    this.idx = this.head;
    this.idxStart = this.start;
    while (this.idx < this.chunks.length) {
      const len = (this.chunks[this.idx] as Uint8Array).length;
      if (this.idxStart + len > offset) break;
      this.idxStart += len;
      this.idx++;
    }
  }

  /**
   * Appends to `into` the pieces (views, no copy) of the next `max` bytes at most from the cursor,
   * across chunks, and advances the cursor past them; returns how many bytes they hold.
   */
  takeParts(max: number, into: Uint8Array[]): number {
    let got = 0;
    while (got < max && this.idx < this.chunks.length) {
      const c = this.chunks[this.idx] as Uint8Array;
      const at = this.position - this.idxStart;
      if (at < c.length) {
        const piece = c.subarray(at, at + (max - got));
        into.push(piece);
        got += piece.length;
        this.position += piece.length;
      }
      if (this.position - this.idxStart >= c.length) {
        this.idxStart += c.length;
        this.idx++;
      }
    }
    return got;
  }

  /** The next piece at the cursor, at most one frame long, and advances the cursor past it. */
  take(): Uint8Array | undefined {
    while (this.idx < this.chunks.length) {
      const c = this.chunks[this.idx] as Uint8Array;
      const at = this.position - this.idxStart;
      if (at < c.length) {
        const piece = c.subarray(at, at + MAX_DATA_FRAME);
        this.position += piece.length;
        return piece;
      }
      this.idxStart += c.length;
      this.idx++;
    }
    return undefined;
  }
}
