/**
 * A tunnel session: one reliable, ordered byte stream per direction that outlives the path it
 * runs on. Each side keeps the bytes it sent until the peer acknowledges them (bounded: writes
 * block when `bufferBytes` are unacknowledged), so when a path dies — a relay killed, a relayed
 * connection replaced by a hole-punched one — the session is attached to a new path and both
 * sides retransmit from the offset the other reported. The application sees a plain Duplex.
 * Here: the path's lifecycle, the receiving half and the Duplex; the sending half is sender.ts.
 */
import { Duplex } from 'node:stream';
import {
  DEFAULT_ACK_EVERY,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_PATH_DEAD_MS,
  DEFAULT_RESUME_TIMEOUT_MS,
  DEFAULT_SESSION_BUFFER,
} from '../../constants.ts';
import { MeshError } from '../../errors.ts';
import { ACK, DATA, encodeAck, encodeReset, FIN, type Frame, FrameDecoder, RESET } from './codec.ts';
import type { Path } from './path.ts';
import { Sender } from './sender.ts';

export interface SessionInit {
  /** Session id (shared by both sides; used in logs). */
  id: string;
  /** Unacknowledged bytes kept for replay before writes block. Default 4 MiB. */
  bufferBytes?: number;
  /** Acknowledge after this many received bytes. Default 256 KiB. */
  ackEvery?: number;
  /** Keepalive (an ACK) after this long without sending. Default 500 ms. */
  keepaliveMs?: number;
  /** A path silent for this long is dead. Default 2 s. */
  pathDeadMs?: number;
  /** A session without a path for this long fails with ERR_SESSION_LOST. Default 30 s. */
  resumeTimeoutMs?: number;
  /** Called when the current path is lost (the initiator then opens a new one). */
  onDetached?: (err: Error) => void;
  /** Called once when the session is over: `err` undefined when both directions completed. */
  onClosed?: (err?: Error) => void;
  /** Clock, for tests. */
  now?: () => number;
}

export type SessionState = 'open' | 'done' | 'failed';

export interface SessionStats {
  state: SessionState;
  attached: boolean;
  attachments: number;
  written: number;
  sent: number;
  acked: number;
  received: number;
  ackSent: number;
  readableBuffered: number;
  writeBlocked: boolean;
}

export class TunnelSession {
  readonly id: string;
  /** The application's end of the tunnel. */
  readonly duplex: Duplex;
  state: SessionState = 'open';
  /** How many times a path was attached (1 for a session that never failed over). */
  attachments = 0;

  private readonly ackEvery: number;
  private readonly keepaliveMs: number;
  private readonly pathDeadMs: number;
  private readonly resumeTimeoutMs: number;
  private readonly now: () => number;
  private readonly init: SessionInit;

  private path: Path | undefined;
  private gen = 0;
  // Output.
  private readonly tx: Sender;
  // Input.
  private recvOffset = 0;
  private peerFin: number | undefined;
  private endDelivered = false;
  private lastAckSent = 0;
  private lastRecvAt = 0;
  private lastSentAt = 0;
  private detachedAt: number;
  private flushing = false;
  private readonly timer: NodeJS.Timeout;

  constructor(init: SessionInit) {
    this.init = init;
    this.id = init.id;
    this.tx = new Sender(init.bufferBytes ?? DEFAULT_SESSION_BUFFER);
    this.ackEvery = init.ackEvery ?? DEFAULT_ACK_EVERY;
    this.keepaliveMs = init.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.pathDeadMs = init.pathDeadMs ?? DEFAULT_PATH_DEAD_MS;
    this.resumeTimeoutMs = init.resumeTimeoutMs ?? DEFAULT_RESUME_TIMEOUT_MS;
    this.now = init.now ?? (() => performance.now());
    this.detachedAt = this.now();
    this.duplex = new Duplex({
      allowHalfOpen: true,
      readableHighWaterMark: this.ackEvery,
      write: (chunk: Buffer, _enc, cb) => this.onWrite(chunk, cb),
      final: (cb) => {
        this.tx.end();
        this.flush();
        cb();
      },
      read: () => {
        if (this.recvOffset > this.lastAckSent) this.sendAck();
      },
      destroy: (err, cb) => {
        this.onAppDestroy(err);
        cb(err);
      },
    });
    const tick = Math.max(20, Math.min(this.keepaliveMs, this.pathDeadMs) / 2);
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
  }

  /** Bytes this side received (what it reports when resuming). */
  get received(): number {
    return this.recvOffset;
  }

  /** Bytes the application wrote so far. */
  get written(): number {
    return this.tx.written;
  }

  /** Unacknowledged bytes held for replay. */
  get unacked(): number {
    return this.tx.unacked;
  }

  get attached(): boolean {
    return this.path !== undefined;
  }

  /** Counters for status pages and debugging (bytes unless said otherwise). */
  stats(): SessionStats {
    return {
      state: this.state,
      attached: this.path !== undefined,
      attachments: this.attachments,
      written: this.tx.written,
      sent: this.tx.sent,
      acked: this.tx.acked,
      received: this.recvOffset,
      ackSent: this.lastAckSent,
      readableBuffered: this.duplex.readableLength,
      writeBlocked: this.tx.blocked,
    };
  }

  /**
   * Runs the session on `path`, replacing any current one. `peerReceived` is how many bytes the
   * peer has of our output: we retransmit from there.
   */
  attach(path: Path, peerReceived: number): void {
    if (this.state !== 'open') {
      path.abort(new MeshError('ERR_SESSION_LOST', `session ${this.id} is ${this.state}`));
      return;
    }
    if (peerReceived < this.tx.acked || peerReceived > this.tx.written) {
      this.fail(
        new MeshError(
          'ERR_SESSION_PROTOCOL',
          `peer resumes at ${peerReceived}, outside [${this.tx.acked}, ${this.tx.written}]`,
        ),
      );
      path.abort(new Error('bad resume offset'));
      return;
    }
    if (this.path) this.detach(new Error('replaced by a new path'), false);
    this.applyAck(peerReceived);
    this.path = path;
    const gen = ++this.gen;
    this.attachments++;
    this.tx.rewind();
    this.lastRecvAt = this.now();
    void this.readLoop(path, gen);
    this.sendAck();
    this.flush();
  }

  /** Ends the session abnormally: the peer gets a RESET, the application an error. */
  abort(err: Error): void {
    this.fail(err);
  }

  private onWrite(chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.state !== 'open') {
      cb(new MeshError('ERR_SESSION_LOST', `session ${this.id} is ${this.state}`));
      return;
    }
    if (chunk.length === 0) {
      cb();
      return;
    }
    this.tx.push(chunk);
    this.flush();
    this.tx.admit(cb);
  }

  private onAppDestroy(err: Error | null): void {
    if (this.state !== 'open') return;
    if (err) {
      this.fail(err);
      return;
    }
    // Destroyed cleanly: if the application stopped before reading or writing everything, the peer
    // must know; otherwise the session finishes delivering our output in the background.
    if (!this.endDelivered || !this.tx.ended) this.fail(new Error('tunnel closed by the application'));
  }

  private async readLoop(path: Path, gen: number): Promise<void> {
    const dec = new FrameDecoder();
    try {
      for await (const chunk of path) {
        if (gen !== this.gen) return;
        // A list's parts go in as they are: joining them would copy every byte once more.
        if (chunk instanceof Uint8Array) dec.push(chunk);
        else for (const part of chunk) dec.push(part);
        this.lastRecvAt = this.now();
        for (let f = dec.next(); f !== undefined; f = dec.next()) {
          this.onFrame(f);
          if (gen !== this.gen) return;
        }
      }
      if (gen === this.gen && this.state === 'open') this.detach(new Error('path closed by peer'));
    } catch (err) {
      if (gen === this.gen && this.state === 'open') this.detach(err as Error);
    }
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case DATA: {
        const end = f.offset + f.length;
        if (this.peerFin !== undefined && end > this.peerFin) throw protocol('DATA beyond FIN');
        if (end <= this.recvOffset) return; // a replay of bytes we have
        if (f.offset > this.recvOffset) throw protocol(`gap: DATA at ${f.offset}, expected ${this.recvOffset}`);
        let skip = this.recvOffset - f.offset; // the part of a replay we already have
        this.recvOffset = end;
        for (const part of f.parts) {
          if (skip >= part.length) {
            skip -= part.length;
            continue;
          }
          if (!this.duplex.destroyed) this.duplex.push(skip > 0 ? part.subarray(skip) : part);
          skip = 0;
        }
        if (this.recvOffset - this.lastAckSent >= this.ackEvery && this.readableHasRoom()) this.sendAck();
        return;
      }
      case ACK:
        this.applyAck(f.offset);
        if (f.fin) this.tx.finAck(f.offset);
        this.checkDone();
        return;
      case FIN:
        if (f.offset !== this.recvOffset) throw protocol(`FIN at ${f.offset}, received ${this.recvOffset}`);
        this.peerFin = f.offset;
        if (!this.endDelivered) {
          this.endDelivered = true;
          if (!this.duplex.destroyed) this.duplex.push(null);
        }
        this.sendAck();
        this.checkDone();
        return;
      case RESET:
        this.fail(new MeshError('ERR_TUNNEL_RESET', `tunnel reset by peer: ${f.reason}`), false);
        return;
    }
  }

  private readableHasRoom(): boolean {
    return this.duplex.readableLength < this.duplex.readableHighWaterMark;
  }

  private applyAck(offset: number): void {
    if (offset > this.tx.written) {
      this.fail(new MeshError('ERR_SESSION_PROTOCOL', `ACK ${offset} beyond sent ${this.tx.written}`));
      return;
    }
    this.tx.ack(offset);
  }

  private flush(): void {
    if (this.flushing || !this.path || this.state === 'failed') return;
    this.flushing = true;
    void this.pump().finally(() => {
      this.flushing = false;
      // Writes (or a new path) that arrived while the pump was finishing are sent now.
      if (this.path && this.tx.pending()) this.flush();
    });
  }

  private async pump(): Promise<void> {
    const gen = this.gen;
    const path = this.path;
    if (!path) return;
    try {
      while (gen === this.gen && this.state !== 'failed') {
        const frame = this.tx.next();
        if (frame === undefined) return;
        this.lastSentAt = this.now();
        if (!path.send(frame)) await path.onDrain();
      }
    } catch (err) {
      if (gen === this.gen && this.state === 'open') this.detach(err as Error);
    }
  }

  private sendAck(): void {
    const path = this.path;
    if (!path) return;
    const offset = this.readableHasRoom() || this.endDelivered ? this.recvOffset : this.lastAckSent;
    const fin = this.peerFin !== undefined && offset === this.peerFin;
    this.lastAckSent = offset;
    this.lastSentAt = this.now();
    try {
      path.send(encodeAck(offset, fin));
    } catch (err) {
      this.detach(err as Error);
    }
  }

  private onTick(): void {
    if (this.state !== 'open') return;
    const now = this.now();
    if (this.path) {
      if (now - this.lastRecvAt > this.pathDeadMs) this.detach(new Error(`path silent for ${this.pathDeadMs} ms`));
      else if (now - this.lastSentAt >= this.keepaliveMs) this.sendAck();
    } else if (now - this.detachedAt > this.resumeTimeoutMs) {
      this.fail(new MeshError('ERR_SESSION_LOST', `session ${this.id} found no path for ${this.resumeTimeoutMs} ms`));
    }
  }

  private detach(err: Error, notify = true): void {
    const p = this.path;
    if (!p) return;
    this.path = undefined;
    this.gen++;
    this.detachedAt = this.now();
    try {
      p.abort(err);
    } catch {
      // Already closed.
    }
    if (notify && this.state === 'open') this.init.onDetached?.(err);
  }

  private checkDone(): void {
    if (this.state !== 'open' || !this.tx.ended || !this.tx.finAcked) return;
    if (this.peerFin === undefined || this.recvOffset !== this.peerFin) return;
    this.state = 'done';
    clearInterval(this.timer);
    const p = this.path;
    this.path = undefined;
    this.gen++;
    if (p) void p.close().catch(() => p.abort(new Error('close failed')));
    this.init.onClosed?.();
  }

  private fail(err: Error, tellPeer = true): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    clearInterval(this.timer);
    const p = this.path;
    this.path = undefined;
    this.gen++;
    if (p) {
      try {
        if (tellPeer) p.send(encodeReset(err.message));
        void p.close().catch(() => p.abort(err));
      } catch {
        p.abort(err);
      }
    }
    this.tx.fail(err);
    if (!this.duplex.destroyed) this.duplex.destroy(err);
    this.init.onClosed?.(err);
  }
}

const protocol = (why: string) => new MeshError('ERR_SESSION_PROTOCOL', why);
