/**
 * Tunnel probes: an echo server behind the mesh and clients streaming a known byte pattern through a
 * forward to it. Each stream's outcome goes to the history as `tunnel.stream` {sent, received,
 * error?, corruptAt?}: the checker's evidence that every byte came out in order, or the stream
 * failed loudly. Streams do not rely on half-close: the client stops once all its bytes came back.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { sleep } from '../../common/async.ts';
import type { HistoryWriter } from './history.ts';

/** Byte `i` of stream `s`: position-dependent, so a loss, a duplicate or a reorder shows. */
const patternByte = (s: number, i: number) => (i * 31 + s * 7 + (i >>> 8)) & 0xff;

export function pattern(s: number, from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let k = 0; k < n; k++) b[k] = patternByte(s, from + k);
  return b;
}

export async function startEcho(port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

export interface ProbeInit {
  /** The forward's address (through the tunnel to the echo server). */
  host: string;
  port: number;
  /** Bytes per stream. Default 256 KiB. */
  bytes?: number;
  /** Chunk size and pause between chunks, so a stream spans faults. Default 8 KiB every 50 ms. */
  chunk?: number;
  pauseMs?: number;
  /** A stream with no progress for this long is destroyed and counted as failed ("stalled"). Default 20 s. */
  stallMs?: number;
}

export interface ProbeStats {
  streams: number;
  complete: number;
  failed: number;
  bytes: number;
}

/** One stream: resolves once it completed or failed; the outcome is written to the history. */
export function probeStream(id: number, init: ProbeInit, history: HistoryWriter, signal: AbortSignal) {
  const total = init.bytes ?? 256 * 1024;
  const chunk = init.chunk ?? 8 * 1024;
  return new Promise<{ received: number; error?: string }>((resolve) => {
    let sent = 0;
    let received = 0;
    let corruptAt: number | undefined;
    let error: string | undefined;
    let done = false;
    let lastProgress = performance.now();
    const sock: Socket = connect(init.port, init.host);
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(watch);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      history('tunnel.stream', {
        stream: id,
        sent,
        received,
        ...(error && { error }),
        ...(corruptAt !== undefined && { corruptAt }),
      });
      resolve({ received, ...(error && { error }) });
    };
    const onAbort = () => {
      error ??= 'aborted';
      finish();
    };
    signal.addEventListener('abort', onAbort);
    const watch = setInterval(() => {
      if (performance.now() - lastProgress > (init.stallMs ?? 20_000)) {
        error ??= 'stalled';
        finish();
      }
    }, 500);
    sock.on('error', (err) => {
      error ??= (err as NodeJS.ErrnoException).code ?? err.message;
    });
    sock.on('close', (hadError) => {
      if (received < total && hadError) error ??= 'closed with an error';
      finish();
    });
    sock.on('data', (buf: Buffer) => {
      lastProgress = performance.now();
      if (corruptAt === undefined) {
        const want = pattern(id, received, buf.length);
        if (!want.equals(buf)) {
          let k = 0;
          while (buf[k] === want[k]) k++;
          corruptAt = received + k;
        }
      }
      received += buf.length;
      if (received >= total || corruptAt !== undefined) finish();
    });
    sock.once('connect', async () => {
      while (!done && sent < total) {
        const n = Math.min(chunk, total - sent);
        const ok = sock.write(pattern(id, sent, n));
        sent += n;
        lastProgress = performance.now();
        if (!ok) await new Promise((r) => sock.once('drain', r));
        await sleep(init.pauseMs ?? 50);
      }
    });
  });
}

/** Runs `parallel` streams back to back until `signal` aborts. */
export async function runProbes(init: ProbeInit & { parallel?: number }, history: HistoryWriter, signal: AbortSignal) {
  const stats: ProbeStats = { streams: 0, complete: 0, failed: 0, bytes: 0 };
  let next = 0;
  const lane = async () => {
    while (!signal.aborted) {
      const id = next++;
      const r = await probeStream(id, init, history, signal);
      stats.streams++;
      stats.bytes += r.received;
      if (r.error) {
        stats.failed++;
        await sleep(200); // a failed stream is usually a dead path: do not spin
      } else stats.complete++;
    }
  };
  await Promise.all(Array.from({ length: init.parallel ?? 2 }, lane));
  return stats;
}
