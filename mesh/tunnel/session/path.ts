/** What a session runs on: a libp2p Stream has exactly this shape; tests use memory-path.ts. */
import type { Stream } from '@libp2p/interface';

/** What a libp2p stream sends and yields: bytes, or a list of byte arrays (libp2p's Uint8ArrayList). */
export type Chunk = Parameters<Stream['send']>[0];

/** A byte pipe a session can run on. */
export interface Path {
  send(data: Chunk): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<Chunk>;
  close(): Promise<void>;
  abort(err: Error): void;
}
