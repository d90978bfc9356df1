/**
 * In-memory path pairs for session tests: what one end sends the other iterates. `kill()` resets
 * both ends at once, as a relay dying under a relayed connection does.
 */
import type { Chunk, Path } from './path.ts';

class End implements Path {
  peer!: End;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private waiter: (() => void) | undefined;
  private drainWaiters: Array<() => void> = [];
  private ended = false;
  private error: Error | undefined;
  private writeClosed = false;
  private readonly highWater: number;
  constructor(highWater: number) {
    this.highWater = highWater;
  }

  send(data: Chunk): boolean {
    if (this.error) throw this.error;
    if (this.writeClosed) throw new Error('path closed for writing');
    this.peer.deliver(data instanceof Uint8Array ? data.slice() : Uint8Array.from(data.subarray()));
    return this.peer.queued < this.highWater;
  }

  onDrain(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.peer.queued < this.highWater) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.drainWaiters.push(() => (this.error ? reject(this.error) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.writeClosed = true;
    this.peer.ended = true;
    this.peer.wake();
  }

  abort(err: Error): void {
    this.fault(err);
    this.peer.fault(err);
  }

  private fault(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.wake();
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private deliver(data: Uint8Array): void {
    this.queue.push(data);
    this.queued += data.length;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      if (this.error) throw this.error;
      const next = this.queue.shift();
      if (next) {
        this.queued -= next.length;
        // The sender waits on its own end for our queue to shrink.
        if (this.queued < this.highWater) for (const w of this.peer.drainWaiters.splice(0)) w();
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
  }
}

export interface MemoryPathPair {
  a: Path;
  b: Path;
  /** Resets both ends (like a relay process dying). */
  kill(err?: Error): void;
}

/** A connected pair; `highWater` bytes queued at a receiver make `send` return false. */
export function memoryPathPair(highWater = 256 * 1024): MemoryPathPair {
  const a = new End(highWater);
  const b = new End(highWater);
  a.peer = b;
  b.peer = a;
  return { a, b, kill: (err = new Error('path killed')) => a.abort(err) };
}
