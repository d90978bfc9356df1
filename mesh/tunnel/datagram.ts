/**
 * UDP over a tunnel: each datagram is one frame, a u16 big-endian length then the payload, on the
 * tunnel's byte stream (so a datagram survives a path change like any byte). The responder side
 * of a `proto: "udp"` tunnel: a connected UDP socket to the target, spliced to the session.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

/** The largest UDP payload (IPv4: 65 535 − 8 − 20). */
export const MAX_DATAGRAM = 65_507;

export function encodeDatagram(payload: Uint8Array): Buffer {
  if (payload.length > MAX_DATAGRAM) throw new RangeError(`datagram of ${payload.length} bytes`);
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

/** Splits a byte stream back into datagrams; `push` returns the datagrams completed by `chunk`. */
export function createDatagramDecoder(): { push(chunk: Buffer): Buffer[] } {
  let held: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      held = held.length ? Buffer.concat([held, chunk]) : chunk;
      const out: Buffer[] = [];
      let at = 0;
      while (held.length - at >= 2) {
        const len = held.readUInt16BE(at);
        if (held.length - at - 2 < len) break;
        out.push(held.subarray(at + 2, at + 2 + len));
        at += 2 + len;
      }
      held = held.subarray(at);
      return out;
    },
  };
}

/** A UDP socket connected to host:port (a literal IP: the allow-list admitted it). */
export function connectUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    sock.once('error', reject);
    sock.connect(port, host, () => {
      sock.removeListener('error', reject);
      resolve(sock);
    });
  });
}

/** Joins a connected UDP socket and a tunnel's byte stream, datagram for datagram. */
export function spliceDatagrams(sock: UdpSocket, stream: Duplex): void {
  const decoder = createDatagramDecoder();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    sock.close();
    stream.destroy();
  };
  sock.on('message', (msg) => {
    if (!stream.destroyed) stream.write(encodeDatagram(msg));
  });
  // ICMP unreachable on a connected socket: the target is not there now, it may come back (UDP).
  sock.on('error', () => {});
  stream.on('data', (chunk: Buffer) => {
    for (const d of decoder.push(chunk)) if (!closed) sock.send(d);
  });
  stream.on('end', close);
  stream.on('close', close);
  stream.on('error', close);
}
