/**
 * A libp2p connection protector speaking the PSK v1 private-network wire format byte for byte
 * (what @libp2p/pnet and go-libp2p's pnet speak): each side sends a random 24-byte nonce in the
 * clear, then everything it writes is XORed with the XSalsa20 keystream of (its nonce, the PSK);
 * it reads with the peer's nonce. A peer with another PSK gets garbage, so the handshake above
 * (noise) fails — which the mesh reports as ERR_PSK_MISMATCH.
 *
 * Why ours: @libp2p/pnet 3.0.27 XORs through one WebAssembly memory shared by the whole process
 * (grows, goes stale and dies above ~640 KiB per write, and never frees a connection's slot) and
 * allocates and copies twice per write. Here incoming bytes are XORed in place (the transport
 * hands them to us alone) and outgoing ones in one copy-and-XOR pass into a single buffer.
 */
import { randomBytes } from 'node:crypto';
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface';
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils';
import { MeshError } from '../errors.ts';
import { XSalsa20 } from './xsalsa20.ts';

export const NONCE_LENGTH = 24;
const KEY_LENGTH = 32;
/** The nonce exchange's deadline when the upgrader gives no signal (as @libp2p/pnet). */
const DEFAULT_TIMEOUT_MS = 1_000;

/** Bytes or a list of them: libp2p's Uint8ArrayList is iterable over its parts. */
type Chunk = Uint8Array | { byteLength: number; [Symbol.iterator](): Iterator<Uint8Array> };

/** The 32-byte key of a PSK v1 file (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits). */
export function decodeV1Psk(file: Uint8Array): Uint8Array {
  const [tag, codec, hex] = new TextDecoder().decode(file).split(/\r\n|\r|\n/);
  if (tag !== '/key/swarm/psk/1.0.0/' || codec !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(hex ?? '')) {
    throw new MeshError('ERR_PSK_FILE', 'not a PSK v1 base16 swarm key');
  }
  return Uint8Array.from(Buffer.from(hex as string, 'hex')).subarray(0, KEY_LENGTH);
}

interface XorInit {
  maConn: MultiaddrConnection;
  inbound: XSalsa20;
  outbound: XSalsa20;
}

/**
 * Writes within one turn of the event loop are coalesced into one buffer (and one socket write),
 * flushed from `setImmediate` — right after the I/O callbacks that produced them — or at once past
 * this many bytes. libp2p's layers above write per frame (a yamux window update after every data
 * frame it receives, an ack here and there): a syscall, a TCP segment and a wake-up of the peer
 * each, which cost more than the bytes.
 */
const FLUSH_BYTES = 256 * 1024;

/** The protected connection: XOR on the way in and out, everything else passed through. */
class XorConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection;
  private readonly outbound: XSalsa20;
  /** Written but not yet flushed (the callers' buffers: they are copied at the flush). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** The transport asked us to wait for its drain. */
  private transportFull = false;

  constructor(init: XorInit) {
    super({
      log: init.maConn.log.newScope('pnet'),
      remoteAddr: init.maConn.remoteAddr,
      direction: init.maConn.direction,
    });
    this.maConn = init.maConn;
    this.outbound = init.outbound;
    const inbound = init.inbound;
    this.maConn.addEventListener('message', (evt) => {
      const data = evt.data as Chunk;
      if (data instanceof Uint8Array) {
        this.onData(inbound.update(data));
        return;
      }
      for (const part of data) inbound.update(part);
      this.onData(data as Parameters<typeof this.onData>[0]);
    });
    this.maConn.addEventListener('drain', () => {
      this.transportFull = false;
      this.onMuxerDrain();
    });
    this.maConn.addEventListener('close', (evt) => {
      this.pending = [];
      this.pendingBytes = 0;
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error);
        else this.onRemoteReset();
      } else {
        this.onTransportClosed();
      }
    });
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pendingBytes === 0) return;
    const out = Buffer.allocUnsafe(this.pendingBytes);
    let at = 0;
    for (const part of this.pending) {
      out.set(part, at);
      at += part.byteLength;
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.outbound.update(out);
    if (this.maConn.status !== 'open') return;
    if (!this.maConn.send(out)) {
      this.transportFull = true;
      this.onMuxerNeedsDrain();
    }
  };

  async sendClose(options?: AbortOptions): Promise<void> {
    this.flush();
    await this.maConn.close(options);
  }

  sendData(data: Chunk): { sentBytes: number; canSendMore: boolean } {
    if (data instanceof Uint8Array) this.pending.push(data);
    else for (const part of data) this.pending.push(part);
    this.pendingBytes += data.byteLength;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return { sentBytes: data.byteLength, canSendMore: !this.transportFull };
  }

  sendReset(err: Error): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.maConn.abort(err);
  }

  sendPause(): void {
    this.maConn.pause();
  }

  sendResume(): void {
    this.maConn.resume();
  }
}

export interface PskProtectorInit {
  /** The PSK v1 file's bytes (as @libp2p/pnet's `preSharedKey` takes them). */
  psk: Uint8Array;
  /** Nonce exchange deadline (ms) when the upgrader passes no signal. Default 1000. */
  timeoutMs?: number;
}

class PskProtector implements ConnectionProtector {
  private readonly key: Uint8Array;
  private readonly timeoutMs: number;
  readonly [Symbol.toStringTag] = 'fedmesh/pnet';

  constructor(init: PskProtectorInit) {
    this.key = decodeV1Psk(init.psk);
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const opts = options?.signal ? options : { ...options, signal: AbortSignal.timeout(this.timeoutMs) };
    const localNonce = randomBytes(NONCE_LENGTH);
    const bytes = byteStream(connection);
    const [remote] = await Promise.all([bytes.read({ ...opts, bytes: NONCE_LENGTH }), bytes.write(localNonce, opts)]);
    const remoteNonce = Uint8Array.from(remote.subarray());
    return new XorConnection({
      maConn: bytes.unwrap() as MultiaddrConnection,
      inbound: new XSalsa20(remoteNonce, this.key),
      outbound: new XSalsa20(localNonce, this.key),
    });
  }
}

/** Drop-in for @libp2p/pnet's `preSharedKey({ psk })`: same file, same wire format. */
export function pskProtector(init: PskProtectorInit): () => ConnectionProtector {
  return () => new PskProtector(init);
}
