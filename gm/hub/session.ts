/**
 * What both dialect sessions share: the context they run in, closing with a clear reason, and the
 * cached encodings of objects (one encoding per object version, reused for every node it goes to).
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../../common/log.ts';
import type { KubeObject } from '../../common/sedna/objects.ts';
import type { Router } from '../../common/sedna/router.ts';
import { CLOSE, type CloseSpec, encodeSednaFrame, type Kind, sednaKindOf } from '../../common/wire/index.ts';
import type { ObjectCache } from './cache.ts';
import type { HubMetrics } from './metrics.ts';
import type { ReportApplier } from './upstream.ts';

export interface SessionContext {
  replicaId: string;
  router: Router;
  cache: ObjectCache;
  applier: ReportApplier;
  metrics: HubMetrics;
  log: Logger;
  maxFrameBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** A fedmesh connection without hello after this long (ms) is closed with 4408. */
  helloTimeoutMs: number;
  /** Aborts when the replica shuts down: in-flight status writes stop. */
  signal: AbortSignal;
}

/** One LC connection on this replica. */
export interface Session {
  readonly node: string;
  readonly dialect: 'sedna' | 'fedmesh';
  /** Epoch ms when the connection was accepted. */
  readonly since: number;
  /** An object routed to (or away from) this node changed. */
  notify(key: string): void;
  /** Closes with `spec` (and an optional detail appended to its reason). */
  close(spec: CloseSpec, detail?: string): void;
  /** Heartbeat bookkeeping, called about once a second with the monotonic time. */
  sweep(now: number): void;
  /** Resolves once the socket closed. */
  readonly closed: Promise<void>;
}

const MAX_REASON_BYTES = 123;

// Close codes are peer input (any of 3000–4999): codes we do not know share one label, so the
// closes counter has a bounded number of series.
const KNOWN_CLOSES = new Set<number>([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 1015]);
for (const c of Object.values(CLOSE)) KNOWN_CLOSES.add(c.code);
const closeLabelCache = new Map<number, Readonly<{ code: string }>>();

/** Labels of `fedmesh_hub_connection_closes_total` for a close code: the code, or `other`. */
export function closeLabels(code: number): Readonly<{ code: string }> {
  const k = KNOWN_CLOSES.has(code) ? code : -1;
  let l = closeLabelCache.get(k);
  if (!l) {
    l = Object.freeze({ code: k === -1 ? 'other' : String(k) });
    closeLabelCache.set(k, l);
  }
  return l;
}

/** Close reason `spec.reason: detail`, ASCII, cut to the 123 bytes a close frame allows. */
export function closeReason(spec: CloseSpec, detail?: string): string {
  const text = detail ? `${spec.reason}: ${detail}` : spec.reason;
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > MAX_REASON_BYTES ? `${ascii.slice(0, MAX_REASON_BYTES - 3)}...` : ascii;
}

export function closeSocket(ws: WebSocket, spec: CloseSpec, detail?: string): void {
  if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
  ws.close(spec.code, closeReason(spec, detail));
  // A peer that never answers the close handshake must not keep the socket (ws waits 30 s otherwise).
  setTimeout(() => ws.terminate(), 2000).unref();
}

/**
 * Runs `fn` with the socket corked, so every frame it sends leaves in one write (a snapshot of
 * several objects, or a fan-out burst, costs one syscall instead of one per frame). ws corks per
 * frame itself; corks nest, so the outer one holds them all.
 */
/**
 * Coalesces flush requests: at most one corked `flush` queued at a time. By default on the next
 * turn of the event loop (after the I/O of this one: a snapshot waits for other LCs' hellos), after
 * `delayMs` for a backpressure retry, or — `'now'`, for a change being fanned out — as soon as the
 * current callback ends, so the fan-out is not queued behind this turn's other sockets (acks,
 * heartbeats, reports). Nothing is queued while `ready()` is false.
 */
export function flushScheduler(
  ws: WebSocket,
  flush: () => void,
  ready: () => boolean,
): (delayMs?: number | 'now') => void {
  let queued = false;
  return (delayMs = 0) => {
    if (queued || !ready()) return;
    queued = true;
    const run = () => {
      queued = false;
      corked(ws, flush);
    };
    if (delayMs === 'now') queueMicrotask(run);
    else if (delayMs) setTimeout(run, delayMs).unref();
    else setImmediate(run);
  };
}

export function corked(ws: WebSocket, fn: () => void): void {
  const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  socket?.cork();
  try {
    fn();
  } finally {
    socket?.uncork();
  }
}

const sednaInserts = new WeakMap<KubeObject, Buffer>();
const fedmeshTails = new WeakMap<KubeObject, Buffer>();

/** The Sedna `insert` frame of this object version (Go-encoder bytes), cached. */
export function sednaInsert(kind: Kind, obj: KubeObject): Buffer {
  let b = sednaInserts.get(obj);
  if (!b) {
    const header = {
      namespace: obj.metadata.namespace ?? '',
      resourceKind: sednaKindOf(kind),
      resourceName: obj.metadata.name,
      operation: 'insert' as const,
    };
    b = Buffer.from(encodeSednaFrame({ type: 'message', header, content: obj }), 'utf8');
    sednaInserts.set(obj, b);
  }
  return b;
}

export function sednaDelete(kind: Kind, namespace: string, name: string): string {
  const header = { namespace, resourceKind: sednaKindOf(kind), resourceName: name, operation: 'delete' as const };
  return encodeSednaFrame({ type: 'message', header, content: null });
}

const OBJECT_HEAD = '{"type":"object","seq":';

/** `{"type":"object","seq":<seq>` followed by `tail`, in one buffer (the head is ASCII). */
function withSeq(seq: number, tail: Buffer): Buffer {
  const head = OBJECT_HEAD + seq;
  const out = Buffer.allocUnsafe(head.length + tail.length);
  out.write(head, 0, 'latin1');
  tail.copy(out, head.length);
  return out;
}

/**
 * The fedmesh `object` upsert frame, as the UTF-8 bytes of a text frame. Everything after the seq
 * is encoded once per object version and reused for every node the change goes to, so a fan-out
 * costs a copy per node instead of a serialisation; the shape is checked by the codec tests.
 */
export function fedmeshUpsert(seq: number, kind: Kind, obj: KubeObject): Buffer {
  let tail = fedmeshTails.get(obj);
  if (!tail) {
    const ns = JSON.stringify(obj.metadata.namespace ?? '');
    const name = JSON.stringify(obj.metadata.name);
    tail = Buffer.from(
      `,"op":"upsert","kind":"${kind}","namespace":${ns},"name":${name},"object":${JSON.stringify(obj)}}`,
      'utf8',
    );
    fedmeshTails.set(obj, tail);
  }
  return withSeq(seq, tail);
}

export function fedmeshDelete(seq: number, kind: Kind, namespace: string, name: string): Buffer {
  const tail = `,"op":"delete","kind":"${kind}","namespace":${JSON.stringify(namespace)},"name":${JSON.stringify(name)}}`;
  return Buffer.from(OBJECT_HEAD + seq + tail, 'utf8');
}
