/**
 * Telling a PSK mismatch from other handshake failures, on both sides of a connection.
 *
 * A PSK v1 private network has no MAC: with the wrong key the handshake "succeeds" (24-byte nonces
 * are exchanged) and the remote's bytes decrypt to garbage. What must come first after the
 * protector is known, though: multistream-select's header, `\x13/multistream/1.0.0\n` — the
 * initiator sends it before proposing a security protocol and the responder answers with it, in
 * js-libp2p and go-libp2p alike. So the first 20 decrypted bytes decide: anything else is a peer
 * with another key (or not a libp2p-with-PSK peer at all).
 *
 * `guardProtector` wraps any protector whose protected stream is a libp2p `AbstractMessageStream`
 * (it receives decrypted bytes through `onData`; both @libp2p/pnet's and a hand-written one built
 * on @libp2p/utils are). On inbound connections it looks at those first bytes as they pass —
 * nothing is consumed or delayed — and on a mismatch calls `onMismatch` and aborts the connection
 * at once with `ERR_PSK_MISMATCH`, instead of waiting for the multistream parser to fail on the
 * garbage (which takes up to the upgrade timeout when the garbage announces a long message).
 * Outbound connections are left alone: an acceptor with another key never answers (it cannot
 * parse what we sent), so the dialer learns nothing from bytes; its dial fails with libp2p's
 * `EncryptionFailedError`, which the dialing code reports (`looksLikePskMismatch`).
 */
import type { ConnectionProtector } from '@libp2p/interface';
import { MeshError } from '../errors.ts';

/** What multistream-select sends first in both directions: varint(19) + "/multistream/1.0.0\n". */
export const MULTISTREAM_HEADER = new Uint8Array([0x13, ...new TextEncoder().encode('/multistream/1.0.0\n')]);

export interface PskMismatch {
  /** Remote address of the raw connection (IP and port, or a circuit address). */
  remoteAddr: string;
}

type Bytes = Uint8Array | { subarray(): Uint8Array };
interface Watchable {
  onData(data: Bytes): void;
  readBuffer?: { byteLength: number; subarray(): Uint8Array };
  abort(err: Error): void;
}

/**
 * Checks bytes against the expected header as they arrive; `feed` returns false at the first
 * byte that differs, true while they match (and once the header is complete).
 */
export function headerCheck(expected: Uint8Array = MULTISTREAM_HEADER) {
  let seen = 0;
  return {
    feed(bytes: Uint8Array): boolean {
      for (let i = 0; i < bytes.length && seen < expected.length; i++, seen++) {
        if (bytes[i] !== expected[seen]) return false;
      }
      return true;
    },
    get complete() {
      return seen >= expected.length;
    },
  };
}

const toBytes = (d: Bytes): Uint8Array => (d instanceof Uint8Array ? d : d.subarray());

/** Wraps a protector factory; see the file comment. */
export function guardProtector<C>(
  factory: (components: C) => ConnectionProtector,
  onMismatch: (m: PskMismatch) => void,
): (components: C) => ConnectionProtector {
  return (components) => {
    const inner = factory(components);
    return {
      async protect(raw, options) {
        const conn = raw as typeof raw & { remoteAddr?: { toString(): string }; direction?: string };
        const out = await inner.protect(raw, options);
        const s = out as unknown as Partial<Watchable>;
        // Not an AbstractMessageStream (cannot watch), or outbound (see above).
        if (typeof s.onData !== 'function' || conn.direction !== 'inbound') return out;
        const check = headerCheck();
        const own = Object.hasOwn(s, 'onData');
        const original = s.onData;
        const restore = () => {
          if (own) s.onData = original;
          else delete s.onData;
        };
        const fail = () => {
          restore();
          onMismatch({ remoteAddr: String(conn.remoteAddr) });
          s.abort?.(
            new MeshError('ERR_PSK_MISMATCH', 'the first bytes after the PSK handshake are not multistream-select'),
          );
        };
        // Bytes decrypted before we got the stream wait in its read buffer.
        const buffered = s.readBuffer && s.readBuffer.byteLength > 0 ? s.readBuffer.subarray() : undefined;
        if (buffered && !check.feed(buffered)) {
          fail();
          return out;
        }
        if (check.complete) return out;
        s.onData = function (this: Watchable, data: Bytes) {
          if (!check.feed(toBytes(data))) return fail();
          if (check.complete) restore();
          return original.call(this, data);
        };
        return out;
      },
    };
  };
}
