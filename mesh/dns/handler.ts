/**
 * One query in, one answer out (or nothing): decode, validate, answer from the cluster zone or
 * forward through the cache, encode, truncate for UDP. Transport-free, so the UDP and TCP servers,
 * the fuzz tests and the benchmark share it. It never throws: hostile bytes give FORMERR or no answer.
 */
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decode,
  encode,
  type OptAnswer,
  type Question,
  RECURSION_AVAILABLE,
  TRUNCATED_RESPONSE,
} from 'dns-packet';
import type { Logger } from '../../common/log.ts';
import type { DnsCache } from './cache.ts';
import type { ClusterZone, LocalAnswer } from './cluster.ts';
import { CLASSIC_UDP_SIZE, MAX_UDP_ANSWER, PACKET_CACHE_MAX_QUERY, PACKET_CACHE_SIZE } from './constants.ts';
import type { DnsMetrics } from './metrics.ts';
import { encodable, normalizeName } from './names.ts';
import { ednsOpt, type Forwarder } from './upstream.ts';

export type Transport = 'udp' | 'tcp';

export interface QueryHandlerComponents {
  /** Undefined: no catalog, every name is forwarded. */
  zone?: ClusterZone;
  forwarder: Forwarder;
  cache: DnsCache;
  metrics: DnsMetrics;
  log: Logger;
  /** Whole-forward deadline, ms. */
  forwardDeadlineMs: number;
  /** Forwards in flight at most; beyond, SERVFAIL at once. */
  maxForwards: number;
}

export interface QueryHandler {
  /** The answer bytes for `msg`, or undefined when nothing should be sent. */
  handle(msg: Buffer, transport: Transport): Promise<Buffer | undefined>;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const RCODE_NAME = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const OPCODE_MASK = 0xf << 11;
const RD = 1 << 8;
const CD = 1 << 4;

/** A header-only answer (FORMERR, REFUSED...) to a query we could not or would not read further. */
export function errorReply(msg: Buffer, rcode: number): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  // A response never gets an answer: answering would let two resolvers ping-pong forever.
  if (flags & 0x8000) return undefined;
  return encode({ type: 'response', id, flags: (flags & (OPCODE_MASK | RD)) | RECURSION_AVAILABLE | rcode });
}

interface Reply {
  rcode: number;
  aa: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export function createQueryHandler(c: QueryHandlerComponents): QueryHandler {
  const inflight = new Map<string, Promise<Reply>>();

  async function forward(q: Question): Promise<Reply> {
    const key = `${normalizeName(q.name)}|${q.type}|${q.class ?? 'IN'}`;
    const hit = c.cache.get(key);
    if (hit) {
      c.metrics.cache('hit');
      return { ...hit, aa: false };
    }
    c.metrics.cache('miss');
    // One upstream query for many identical ones at once (a pod restart storm asks the same names).
    const running = inflight.get(key);
    if (running) return running;
    if (inflight.size >= c.maxForwards)
      return { rcode: RCODE.SERVFAIL, aa: false, answers: [], authorities: [], additionals: [] };
    const p = c.forwarder
      .forward({ name: q.name, type: q.type, class: q.class ?? 'IN' }, AbortSignal.timeout(c.forwardDeadlineMs))
      .then(
        (r): Reply => {
          const value = { rcode: r.rcode, answers: r.answers, authorities: r.authorities, additionals: r.additionals };
          c.cache.put(key, value);
          return { ...value, aa: false };
        },
        (): Reply => ({ rcode: RCODE.SERVFAIL, aa: false, answers: [], authorities: [], additionals: [] }),
      )
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }

  async function local(q: Question, a: LocalAnswer): Promise<Reply> {
    const reply: Reply = { ...a, rcode: RCODE[a.rcode], aa: a.rcode !== 'SERVFAIL' };
    if (!a.chase) return reply;
    // ExternalName: the CNAME, then what the target resolves to (stub resolvers do not follow it themselves).
    // A target inside the cluster domain is answered here (one level: ExternalName chains are not followed).
    const inner = c.zone?.answer(a.chase, q.type);
    const more =
      inner && !inner.chase
        ? { ...inner, rcode: RCODE[inner.rcode] }
        : await forward({ name: a.chase, type: q.type, class: 'IN' });
    return {
      ...reply,
      rcode: more.rcode === RCODE.NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR,
      answers: [...a.answers, ...more.answers],
    };
  }

  function build(query: DecodedPacket, q: Question, r: Reply, opt: OptAnswer | undefined, limit: number): Buffer {
    const flags =
      ((query.flags ?? 0) & (OPCODE_MASK | RD | CD)) |
      RECURSION_AVAILABLE |
      (r.aa ? AUTHORITATIVE_ANSWER : 0) |
      r.rcode;
    const ours: Answer[] = opt ? [ednsOpt()] : [];
    const full = encode({
      type: 'response',
      id: query.id,
      flags,
      questions: [q],
      answers: r.answers,
      authorities: r.authorities,
      additionals: [...r.additionals.filter((x) => x.type !== 'OPT'), ...ours],
    });
    if (full.length <= limit) return full;
    // Too big for this UDP client: header and question with TC, the client retries over TCP.
    c.metrics.truncated();
    return encode({
      type: 'response',
      id: query.id,
      flags: flags | TRUNCATED_RESPONSE,
      questions: [q],
      additionals: ours,
    });
  }

  // Encoded cluster answers by the query's bytes after its ID (a packet cache): the same query
  // again costs a copy and the ID, no decoding. Only authoritative NOERROR/NXDOMAIN answers of
  // the current zone version; bounded, cleared when full.
  const packets = new Map<string, { out: Buffer; version: number; type: string; rcode: string }>();
  const packetKey = (msg: Buffer, transport: Transport) =>
    msg.length <= PACKET_CACHE_MAX_QUERY ? `${transport}${msg.toString('latin1', 2)}` : undefined;

  async function handle(msg: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (msg.length < 12) {
      c.metrics.malformed(transport, 'short');
      return undefined;
    }
    const pkey = c.zone ? packetKey(msg, transport) : undefined;
    const hit = pkey === undefined ? undefined : packets.get(pkey);
    if (hit && hit.version === c.zone?.version()) {
      const out = Buffer.from(hit.out);
      msg.copy(out, 0, 0, 2);
      c.metrics.query(hit.type, hit.rcode, transport);
      return out;
    }
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      c.metrics.malformed(transport, 'undecodable');
      const reply = errorReply(msg, RCODE.FORMERR);
      if (reply) c.metrics.query('none', 'FORMERR', transport);
      return reply;
    }
    if (query.type !== 'query') {
      c.metrics.malformed(transport, 'response');
      return undefined;
    }
    const q = query.questions?.[0];
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    let rcode: number | undefined;
    if (opcode !== 0) rcode = RCODE.NOTIMP;
    else if (!q || query.questions?.length !== 1) rcode = RCODE.FORMERR;
    else if (!encodable(q.name)) rcode = RCODE.FORMERR;
    else if (q.class !== 'IN') rcode = RCODE.NOTIMP;
    if (rcode !== undefined || !q) {
      if (rcode === RCODE.FORMERR) c.metrics.malformed(transport, 'question');
      c.metrics.query(q?.type ?? 'none', RCODE_NAME[rcode ?? 1] as string, transport);
      return errorReply(msg, rcode ?? RCODE.FORMERR);
    }
    const opt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
    if (opt && opt.ednsVersion > 0) {
      // RFC 6891: a version we do not speak gets BADVERS (16: extended rcode 1 in the OPT, 0 in the header).
      c.metrics.query(q.type, 'BADVERS', transport);
      return encode({
        type: 'response',
        id: query.id,
        flags: ((query.flags ?? 0) & (OPCODE_MASK | RD)) | RECURSION_AVAILABLE,
        questions: [q],
        additionals: [{ ...ednsOpt(), extendedRcode: 1 }],
      });
    }
    const limit =
      transport === 'tcp'
        ? 65_535
        : opt
          ? Math.min(MAX_UDP_ANSWER, Math.max(CLASSIC_UDP_SIZE, opt.udpPayloadSize))
          : CLASSIC_UDP_SIZE;
    let reply: Reply;
    let fromZone = false;
    const version = c.zone?.version() ?? 0;
    try {
      const a = c.zone?.answer(q.name, q.type);
      // Only answers made from the zone alone go into the packet cache (a chase adds forwarded TTLs).
      fromZone = a !== undefined && !a.chase;
      // Cluster answers without a chase stay synchronous: no await on the hot path.
      reply = a
        ? a.chase
          ? await local(q, a)
          : { ...a, rcode: RCODE[a.rcode], aa: a.rcode !== 'SERVFAIL' }
        : await forward(q);
    } catch (err) {
      c.log.error({ err, name: q.name, type: q.type }, 'dns query failed');
      reply = { rcode: RCODE.SERVFAIL, aa: false, answers: [], authorities: [], additionals: [] };
    }
    let out: Buffer;
    try {
      out = build(query, q, reply, opt, limit);
    } catch (err) {
      // An upstream record we can decode but not encode again: the client gets SERVFAIL, not silence.
      c.log.warn({ err, name: q.name, type: q.type }, 'dns answer not encodable');
      reply = { rcode: RCODE.SERVFAIL, aa: false, answers: [], authorities: [], additionals: [] };
      out = build(query, { name: q.name, type: q.type, class: 'IN' }, reply, opt, limit);
    }
    const rcodeName = RCODE_NAME[reply.rcode] ?? 'other';
    c.metrics.query(q.type, rcodeName, transport);
    if (
      pkey !== undefined &&
      fromZone &&
      reply.aa &&
      (reply.rcode === RCODE.NOERROR || reply.rcode === RCODE.NXDOMAIN)
    ) {
      if (packets.size >= PACKET_CACHE_SIZE) packets.clear();
      packets.set(pkey, { out: Buffer.from(out), version, type: q.type, rcode: rcodeName });
    }
    return out;
  }

  return {
    async handle(msg, transport) {
      try {
        return await handle(msg, transport);
      } catch (err) {
        c.log.warn({ err }, 'dns query not answerable');
        c.metrics.malformed(transport, 'unanswerable');
        return errorReply(msg, RCODE.SERVFAIL);
      }
    },
  };
}
