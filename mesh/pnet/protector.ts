/**
 * A libp2p connection protector speaking the PSK v1 private-network wire format byte for byte
 * (what @libp2p/pnet and go-libp2p's pnet speak): each side sends a random 24-byte nonce in the
 * clear, then everything it writes is XORed with the XSalsa20 keystream of (its nonce, the PSK);
 * it reads with the peer's nonce. A peer with another PSK gets garbage, so the handshake above
 * (noise) fails — which the mesh reports as ERR_PSK_MISMATCH.
 *
 * Rotation (keyring.ts): a node may hold several keys. Its nonce is 16 random bytes and an 8-byte
 * hint, HMAC(current key, the 16 bytes) — still 24 unpredictable bytes to a stock peer. The dialer
 * uses the acceptor's current key when the hint names one it holds, else its own current key; the
 * acceptor finds the dialer's key by trial decryption of the first 20 bytes, which are
 * multistream-select's header (known plaintext in every libp2p stack; a wrong key matches with
 * probability 2^-160 per key), then answers with that key. With one key nothing is tried.
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
import { createKeyRing, HINT_LENGTH, nonceHint, type PskKeyRing, type RingKey } from './keyring.ts';
import { MULTISTREAM_HEADER } from './psk-guard.ts';
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

interface Ciphers {
  inbound: XSalsa20;
  outbound: XSalsa20;
}

interface XorInit {
  maConn: MultiaddrConnection;
  /** The ciphers, or how to choose them from the first decrypted bytes (an acceptor holding several keys). */
  ciphers: Ciphers | { decide(first: Uint8Array): Ciphers };
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
  private inbound: XSalsa20 | undefined;
  private outbound: XSalsa20 | undefined;
  /** Written but not yet flushed (the callers' buffers: they are copied at the flush). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** The transport asked us to wait for its drain. */
  private transportFull = false;
  /** Raw bytes held until the key is chosen (`decide`). */
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(init: XorInit) {
    super({
      log: init.maConn.log.newScope('pnet'),
      remoteAddr: init.maConn.remoteAddr,
      direction: init.maConn.direction,
    });
    this.maConn = init.maConn;
    const ciphers = init.ciphers;
    if ('inbound' in ciphers) {
      this.inbound = ciphers.inbound;
      this.outbound = ciphers.outbound;
    }
    this.maConn.addEventListener('message', (evt) => {
      const data = evt.data as Chunk;
      const inbound = this.inbound;
      if (inbound === undefined) {
        if ('decide' in ciphers) this.hold(data, ciphers.decide);
        return;
      }
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
      this.held = [];
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error);
        else this.onRemoteReset();
      } else {
        this.onTransportClosed();
      }
    });
  }

  /** Keeps raw bytes until the multistream header's 20 have arrived, then chooses the key. */
  private hold(data: Chunk, decide: (first: Uint8Array) => Ciphers): void {
    if (data instanceof Uint8Array) this.held.push(data);
    else for (const part of data) this.held.push(part);
    this.heldBytes += data.byteLength;
    if (this.heldBytes < MULTISTREAM_HEADER.length) return;
    const all = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    const ciphers = decide(all.subarray(0, MULTISTREAM_HEADER.length));
    this.inbound = ciphers.inbound;
    this.outbound = ciphers.outbound;
    this.onData(this.inbound.update(all));
    this.flush();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pendingBytes === 0 || this.outbound === undefined) return;
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
  /** The PSK v1 file's bytes (as @libp2p/pnet's `preSharedKey` takes them)… */
  psk?: Uint8Array;
  /** …or the keys of a rotation (keyring.ts): dials with the current one, accepts every accepted one. */
  ring?: PskKeyRing;
  /** Nonce exchange deadline (ms) when the upgrader passes no signal. Default 1000. */
  timeoutMs?: number;
}

/** A nonce: 16 random bytes, then the hint naming `key` (see the file comment). */
function makeNonce(key: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_LENGTH);
  const prefix = randomBytes(NONCE_LENGTH - HINT_LENGTH);
  nonce.set(prefix);
  nonce.set(nonceHint(key, prefix), prefix.length);
  return nonce;
}

/** The key `nonce`'s hint names among `keys`, if any. */
function hinted(nonce: Uint8Array, keys: RingKey[]): RingKey | undefined {
  const prefix = nonce.subarray(0, NONCE_LENGTH - HINT_LENGTH);
  const hint = Buffer.from(nonce.subarray(NONCE_LENGTH - HINT_LENGTH));
  return keys.find((k) => hint.equals(nonceHint(k.key, prefix)));
}

/** The accepted key under which `first` decrypts to multistream-select's header; else the current one. */
function trial(remoteNonce: Uint8Array, first: Uint8Array, keys: RingKey[]): RingKey {
  for (const k of keys) {
    const plain = new XSalsa20(remoteNonce, k.key).update(Uint8Array.from(first));
    if (Buffer.from(plain).equals(MULTISTREAM_HEADER)) return k;
  }
  return keys[0] as RingKey;
}

class PskProtector implements ConnectionProtector {
  private readonly ring: PskKeyRing;
  private readonly timeoutMs: number;
  readonly [Symbol.toStringTag] = 'fedmesh/pnet';

  constructor(init: PskProtectorInit) {
    if (init.ring) this.ring = init.ring;
    else if (init.psk) this.ring = createKeyRing({ keys: [canonical(init.psk)], windowMs: 0 });
    else throw new MeshError('ERR_PSK_FILE', 'no PSK');
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const opts = options?.signal ? options : { ...options, signal: AbortSignal.timeout(this.timeoutMs) };
    const keys = this.ring.accepted();
    const localNonce = makeNonce((keys[0] as RingKey).key);
    const bytes = byteStream(connection);
    const [remote] = await Promise.all([bytes.read({ ...opts, bytes: NONCE_LENGTH }), bytes.write(localNonce, opts)]);
    const remoteNonce = Uint8Array.from(remote.subarray());
    const maConn = bytes.unwrap() as MultiaddrConnection;
    // Closed when its key leaves the ring (the rotation window ended).
    let conn: XorConnection | undefined;
    const track = (k: RingKey, c: XorConnection) => {
      const untrack = this.ring.track(k.id, c);
      c.addEventListener('close', untrack, { once: true });
    };
    const ciphersOf = (k: RingKey): Ciphers => ({
      inbound: new XSalsa20(remoteNonce, k.key),
      outbound: new XSalsa20(localNonce, k.key),
    });
    let key: RingKey | undefined;
    if (keys.length === 1) key = keys[0] as RingKey;
    else if (maConn.direction === 'outbound') key = hinted(remoteNonce, keys) ?? (keys[0] as RingKey);
    conn = new XorConnection({
      maConn,
      ciphers: key
        ? ciphersOf(key)
        : {
            decide: (first) => {
              const k = trial(remoteNonce, first, keys);
              if (conn) track(k, conn);
              return ciphersOf(k);
            },
          },
    });
    if (key) track(key, conn);
    return conn;
  }
}

/** A PSK file's bytes as the canonical one-key file (`decodeV1Psk` checks the format). */
function canonical(psk: Uint8Array): Uint8Array {
  const hex = Buffer.from(decodeV1Psk(psk)).toString('hex');
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`);
}

/** Drop-in for @libp2p/pnet's `preSharedKey({ psk })`: same file, same wire format. */
export function pskProtector(init: PskProtectorInit): () => ConnectionProtector {
  return () => new PskProtector(init);
}
