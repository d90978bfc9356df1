/**
 * Forwarding to upstream resolvers: one fresh UDP socket per attempt (a random source port and a
 * random ID, so off-path spoofing has to guess both), TCP retry when the answer is truncated,
 * failover to the next upstream on timeout, error or a SERVFAIL/REFUSED answer; the upstream that
 * last answered is tried first. Resolves with the answer or throws UpstreamError.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIPv4, isIPv6 } from 'node:net';
import {
  type Answer,
  type DecodedPacket,
  decode,
  encode,
  type OptAnswer,
  type Question,
  RECURSION_DESIRED,
} from 'dns-packet';
import { FedmeshError } from '../../common/errors.ts';
import { canonicalIP } from '../services/model.ts';
import { EDNS_UDP_SIZE } from './constants.ts';
import { encodable } from './names.ts';

export interface Upstream {
  host: string;
  port: number;
}

export class UpstreamError extends FedmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DNS_UPSTREAM', options);
    this.name = 'UpstreamError';
  }
}

export interface ForwardResult {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  upstream: string;
}

export interface ForwarderInit {
  upstreams: Upstream[];
  /** One attempt, ms. */
  timeoutMs: number;
}

export interface Forwarder {
  /** The answer of the first upstream that gives one; `signal` bounds the whole forward. */
  forward(q: Question, signal: AbortSignal): Promise<ForwardResult>;
}

/** Called per failed attempt: upstream `host:port` and a reason (timeout, error, servfail, refused, mismatch). */
export type UpstreamFailure = (upstream: string, reason: string) => void;

const label = (u: Upstream) => (isIPv6(u.host) ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`);

/** `nameserver` lines of a resolv.conf (port 53). Missing file: none. */
export function resolvConfNameservers(path = '/etc/resolv.conf'): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // A scoped IPv6 address (fe80::1%eth0) keeps its zone: dgram accepts it.
    if (m?.[1]) out.push({ host: m[1], port: 53 });
  }
  return out;
}

/** `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address → Upstream (port 53 by default). */
export function parseUpstream(text: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracket) {
    const port = Number(bracket[2] ?? 53);
    if (!isIPv6(bracket[1] as string) || port < 1 || port > 65535) throw new Error(`invalid upstream "${text}"`);
    return { host: bracket[1] as string, port };
  }
  if (isIPv6(text)) return { host: text, port: 53 };
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(text);
  // IP literals only: a host name would be resolved through the system resolver, which may be us.
  if (!m || !isIPv4(m[1] as string)) throw new Error(`invalid upstream "${text}" (IP, IP:PORT or [IPv6]:PORT)`);
  const port = Number(m[2] ?? 53);
  if (port < 1 || port > 65535) throw new Error(`invalid upstream port in "${text}"`);
  return { host: m[1] as string, port };
}

/** Our OPT record: EDNS0 with the payload size we accept. */
export function ednsOpt(): OptAnswer {
  return {
    name: '.',
    type: 'OPT',
    udpPayloadSize: EDNS_UDP_SIZE,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

function queryPacket(q: Question, id: number): Buffer {
  return encode({
    type: 'query',
    id,
    flags: RECURSION_DESIRED,
    questions: [{ name: q.name, type: q.type, class: q.class ?? 'IN' }],
    additionals: [ednsOpt()],
  });
}

/** True when `p` answers query `id` for `q` (case-insensitive name, as 0x20 randomization allows). */
function matches(p: DecodedPacket, id: number, q: Question): boolean {
  const pq = p.questions?.[0];
  return (
    p.type === 'response' &&
    p.id === id &&
    pq !== undefined &&
    pq.type === q.type &&
    pq.name.toLowerCase() === q.name.toLowerCase()
  );
}

const sameIP = (a: string, b: string) => canonicalIP(a.split('%')[0] ?? a) === canonicalIP(b.split('%')[0] ?? b);

function udpAttempt(u: Upstream, q: Question, signal: AbortSignal): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 65536);
    const sock = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, p?: DecodedPacket) => {
      signal.removeEventListener('abort', onAbort);
      sock.close();
      if (err) reject(err);
      else resolve(p as DecodedPacket);
    };
    const onAbort = () => done(new UpstreamError('timeout'));
    if (signal.aborted) return reject(new UpstreamError('timeout'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => done(new UpstreamError('error', { cause: err })));
    sock.on('message', (msg, rinfo) => {
      // Anything not from the upstream, undecodable or for another query is ignored (spoofing, stale answers).
      if (rinfo.port !== u.port || !sameIP(rinfo.address, u.host)) return;
      let p: DecodedPacket;
      try {
        p = decode(msg);
      } catch {
        return;
      }
      if (matches(p, id, q)) done(undefined, p);
    });
    sock.send(queryPacket(q, id), u.port, u.host, (err) => {
      if (err) done(new UpstreamError('error', { cause: err }));
    });
  });
}

function tcpAttempt(u: Upstream, q: Question, signal: AbortSignal): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 65536);
    if (signal.aborted) return reject(new UpstreamError('timeout'));
    const sock = connect({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, p?: DecodedPacket) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(p as DecodedPacket);
    };
    const onAbort = () => done(new UpstreamError('timeout'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => done(new UpstreamError('error', { cause: err })));
    sock.on('close', () => done(new UpstreamError('error')));
    sock.on('connect', () => {
      const msg = queryPacket(q, id);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length < n + 2) return;
      let p: DecodedPacket;
      try {
        p = decode(buf.subarray(2, n + 2));
      } catch (err) {
        return done(new UpstreamError('malformed', { cause: err }));
      }
      if (matches(p, id, q)) done(undefined, p);
      else done(new UpstreamError('mismatch'));
    });
  });
}

const RCODE_SERVFAIL = 2;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;

export function createForwarder(init: ForwarderInit, onFailure: UpstreamFailure = () => {}): Forwarder {
  let preferred = 0;
  return {
    async forward(q, signal) {
      const n = init.upstreams.length;
      if (n === 0) throw new UpstreamError('no upstream resolvers configured');
      for (let i = 0; i < n && !signal.aborted; i++) {
        const index = (preferred + i) % n;
        const u = init.upstreams[index] as Upstream;
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(init.timeoutMs)]);
        let p: DecodedPacket;
        try {
          p = await udpAttempt(u, q, attempt);
          // Truncated: the full answer over TCP from the same upstream.
          if (p.flag_tc) p = await tcpAttempt(u, q, attempt);
        } catch (err) {
          onFailure(label(u), (err as Error).message === 'timeout' ? 'timeout' : 'error');
          continue;
        }
        const rcode = (p.flags ?? 0) & 0xf;
        if (rcode === RCODE_SERVFAIL || rcode === RCODE_REFUSED || rcode === RCODE_NOTIMP) {
          onFailure(label(u), rcode === RCODE_SERVFAIL ? 'servfail' : rcode === RCODE_REFUSED ? 'refused' : 'notimp');
          continue;
        }
        const records = [...(p.answers ?? []), ...(p.authorities ?? []), ...(p.additionals ?? [])];
        if (!records.every((r) => encodable(r.name))) {
          onFailure(label(u), 'malformed');
          continue;
        }
        preferred = index;
        return {
          rcode,
          answers: p.answers ?? [],
          authorities: p.authorities ?? [],
          // The upstream's OPT is about its hop, not ours.
          additionals: (p.additionals ?? []).filter((a) => a.type !== 'OPT'),
          upstream: label(u),
        };
      }
      throw new UpstreamError('no upstream answered');
    },
  };
}
