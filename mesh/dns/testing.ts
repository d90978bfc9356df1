/**
 * Test helpers (unit and integration tests, the benchmark): a catalog stub, a small client for UDP
 * and TCP, and an upstream stub resolver, all on loopback.
 */
import { createSocket } from 'node:dgram';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { type DecodedPacket, decode, encode, type Packet, type RecordType } from 'dns-packet';
import type { ServiceChange, ServiceEntry } from '../services/index.ts';
import type { DnsCatalog } from './cluster.ts';
import { ednsOpt } from './upstream.ts';

/** A catalog over a map the test edits; `set`/`remove` notify listeners as the real catalog does. */
export function stubCatalog(entries: ServiceEntry[] = []): DnsCatalog & {
  set(e: ServiceEntry): void;
  remove(ns: string, name: string): void;
} {
  const map = new Map(entries.map((e) => [`${e.service.namespace}/${e.service.name}`, e]));
  const listeners = new Set<(c: ServiceChange) => void>();
  const notify = (c: ServiceChange) => {
    for (const l of listeners) l(c);
  };
  return {
    lookup: (ns, name) => map.get(`${ns}/${name}`),
    entries: () => map.values(),
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(e) {
      const k = `${e.service.namespace}/${e.service.name}`;
      const previous = map.get(k);
      map.set(k, e);
      notify({ namespace: e.service.namespace, name: e.service.name, entry: e, previous });
    },
    remove(ns, name) {
      const previous = map.get(`${ns}/${name}`);
      map.delete(`${ns}/${name}`);
      notify({ namespace: ns, name, previous });
    },
  };
}

/** A ServiceEntry with defaults filled in. */
export function entry(
  ns: string,
  name: string,
  service: Partial<ServiceEntry['service']> = {},
  endpoints: ServiceEntry['endpoints'] = [],
): ServiceEntry {
  return {
    service: {
      namespace: ns,
      name,
      type: 'ClusterIP',
      clusterIPs: [],
      headless: false,
      ports: [],
      sessionAffinity: 'None',
      ...service,
    },
    endpoints,
  };
}

export interface QueryOptions {
  tcp?: boolean;
  /** EDNS payload size to advertise; absent: no OPT record. */
  edns?: number;
  id?: number;
  timeoutMs?: number;
}

let nextId = 1;

export function queryBytes(name: string, type: RecordType, o: QueryOptions = {}): Buffer {
  const p: Packet = {
    type: 'query',
    id: o.id ?? nextId++ & 0xffff,
    flags: 1 << 8,
    questions: [{ name, type, class: 'IN' }],
  };
  if (o.edns) p.additionals = [{ ...ednsOpt(), udpPayloadSize: o.edns }];
  return encode(p);
}

/** Sends raw bytes over UDP and resolves with the first answer (undefined on timeout). */
export function udpExchange(
  port: number,
  msg: Buffer,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

/** Sends length-prefixed messages over one TCP connection; resolves with the answers read until `count` or close. */
export function tcpExchange(port: number, msgs: Buffer[], count = msgs.length, host = '127.0.0.1'): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const sock = connect({ host, port }, () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        sock.write(Buffer.concat([len, m]));
      }
    });
    const t = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        out.push(buf.subarray(2, buf.readUInt16BE(0) + 2));
        buf = buf.subarray(buf.readUInt16BE(0) + 2);
      }
      if (out.length >= count) sock.destroy();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

/** One query over UDP or TCP, decoded. */
export async function query(
  port: number,
  name: string,
  type: RecordType,
  o: QueryOptions = {},
): Promise<DecodedPacket> {
  const msg = queryBytes(name, type, o);
  const raw = o.tcp ? (await tcpExchange(port, [msg]))[0] : await udpExchange(port, msg, o.timeoutMs);
  if (!raw) throw new Error(`no answer for ${name} ${type}`);
  return decode(raw);
}

export const rcodeOf = (p: DecodedPacket): number => (p.flags ?? 0) & 0xf;

export interface StubUpstream {
  port: number;
  /** Queries seen (UDP and TCP). */
  queries: Array<{ name: string; type: string; tcp: boolean }>;
  close(): Promise<void>;
}

/**
 * An upstream resolver on 127.0.0.1 (UDP and TCP on one port): `answer` gives the answer packet
 * for a query (its id and question are filled in), or undefined to stay silent.
 */
export async function stubUpstream(
  answer: (q: DecodedPacket, tcp: boolean) => Packet | undefined,
): Promise<StubUpstream> {
  const queries: StubUpstream['queries'] = [];
  const reply = (bytes: Buffer, tcp: boolean): Buffer | undefined => {
    let q: DecodedPacket;
    try {
      q = decode(bytes);
    } catch {
      return undefined;
    }
    const qq = q.questions?.[0];
    if (qq) queries.push({ name: qq.name, type: qq.type, tcp });
    const a = answer(q, tcp);
    return a ? encode({ type: 'response', id: q.id, questions: q.questions, ...a }) : undefined;
  };
  const conns = new Set<import('node:net').Socket>();
  const tcp: Server = createServer((s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    let buf = Buffer.alloc(0);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const out = reply(buf.subarray(2, buf.readUInt16BE(0) + 2), true);
        buf = buf.subarray(buf.readUInt16BE(0) + 2);
        if (out) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          s.write(Buffer.concat([len, out]));
        }
      }
    });
    s.on('error', () => {});
  });
  // UDP and TCP on one port: a port free for UDP may be taken for TCP (by any socket), then try another.
  let udp = createSocket('udp4');
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    port = (udp.address() as AddressInfo).port;
    const bound = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    if (bound) break;
    udp.close();
    if (attempt > 10) throw new Error('no port free for both UDP and TCP');
    udp = createSocket('udp4');
  }
  udp.on('message', (m, rinfo) => {
    const out = reply(m, false);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  return {
    port,
    queries,
    close: async () => {
      udp.close();
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

/**
 * Sends `count` copies of `msg` from `from` (UDP) in batches between event-loop turns (a flood at
 * the rate the loop allows, not one burst larger than the kernel's socket buffer), while a second
 * source `other` asks once every `otherEvery` batches (default 10), below any limit a test sets. Resolves with how many each got answered.
 */
export async function floodFrom(
  port: number,
  msg: Buffer,
  o: { count: number; batch?: number; from?: string; other?: string; otherEvery?: number },
): Promise<{ flood: number; other: number; otherAsked: number; seconds: number }> {
  const bind = async (host: string) => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    return s;
  };
  const a = await bind(o.from ?? '127.0.0.1');
  const b = await bind(o.other ?? '127.0.0.2');
  const got = { flood: 0, other: 0, otherAsked: 0, seconds: 0 };
  const t0 = performance.now();
  a.on('message', () => got.flood++);
  b.on('message', () => got.other++);
  const batch = o.batch ?? 20;
  for (let sent = 0, n = 0; sent < o.count; sent += batch, n++) {
    for (let i = 0; i < batch && sent + i < o.count; i++) a.send(msg, port, '127.0.0.1');
    if (n % (o.otherEvery ?? 10) === 0) {
      b.send(msg, port, '127.0.0.1');
      got.otherAsked++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 300));
  got.seconds = (performance.now() - t0) / 1000;
  a.close();
  b.close();
  return got;
}
