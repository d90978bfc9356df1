/**
 * The LC's link to the GM replicas, fedmesh v1 (common/wire/PROTOCOL.md): tries the endpoints in
 * turn, moving on the moment one fails and backing off (with jitter) only after a whole round failed;
 * applies downstream frames to the store atomically with the stream position before acking them;
 * sends outbox reports within the GM's credit, one in flight per object so they land in order, and
 * forgets a report only when the GM acked it.
 *
 * Seam: `dial` opens the WebSocket. The default dials directly; a mesh tunnel (mesh/) or the
 * metaServer list-watch fallback plug in here without touching the protocol or the store.
 */
import WebSocket from 'ws';
import { sleep } from '../common/async.ts';
import type { Logger } from '../common/log.ts';
import {
  CLOSE,
  type CloseSpec,
  closeForWireError,
  decodeFedmeshFrame,
  encodeFedmeshFrame,
  FEDMESH_SUBPROTOCOL,
  type FedmeshDownstreamFrame,
  type FedmeshUpstreamFrame,
  isWireError,
  type NackFrame,
  type ReportId,
  type WelcomeFrame,
} from '../common/wire/index.ts';
import { createBackoff } from './backoff.ts';
import {
  AUTH_RETRY_MS,
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  DOWNSTREAM_WINDOW,
  HANDSHAKE_TIMEOUT_MS,
  MAX_DOWNSTREAM_FRAME_BYTES,
  OUTBOX_SCAN,
  REPORT_RETRY_MAX_MS,
  REPORT_RETRY_MIN_MS,
} from './constants.ts';
import { type LcStore, type StoreOp, storeKey } from './store/types.ts';

/** Opens a WebSocket to `url`; replaceable (mesh tunnel, tests). */
export type Dialer = (
  url: string,
  opts: { protocols: string[]; headers: Record<string, string>; handshakeTimeoutMs: number; maxPayload: number },
) => WebSocket;

export const directDialer: Dialer = (url, o) =>
  new WebSocket(url, o.protocols, {
    headers: o.headers,
    handshakeTimeout: o.handshakeTimeoutMs,
    maxPayload: o.maxPayload,
    perMessageDeflate: false,
  });

export interface LinkInit {
  node: string;
  /** GM endpoints as ws:// URLs, tried in turn from a random start. */
  endpoints: string[];
  lcVersion: string;
  /** Bearer token for the next dial, re-read every time (projected tokens rotate); undefined sends none. */
  token?: () => string | undefined;
  /** Downstream window offered in hello. Default DOWNSTREAM_WINDOW. */
  window?: number;
  /** Dial backoff (ms). Defaults 250 / 15 000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** Hooks for tests, the bench and metrics; all optional. */
export interface LinkObserver {
  welcome?(w: WelcomeFrame, endpoint: string): void;
  applied?(ops: StoreOp[], seq: number): void;
  acked?(seq: number): void;
  closed?(code: number, reason: string, welcomed: boolean): void;
}

export interface LinkComponents {
  store: LcStore;
  log: Logger;
  dial?: Dialer;
  random?: () => number;
  observer?: LinkObserver;
}

export interface LinkStatus {
  connected: boolean;
  endpoint?: string;
  replica?: string;
  stream?: string;
  /** Successful handshakes so far. */
  connects: number;
}

export interface Link {
  /** Connects and reconnects until `signal` aborts; then closes with 1000 and resolves. */
  start(signal: AbortSignal): Promise<void>;
  status(): LinkStatus;
  /** The outbox grew: send what the window allows. */
  kick(): void;
}

export function createLink(init: LinkInit, components: LinkComponents): Link {
  const { store, observer } = components;
  const log = components.log.child({ component: 'lc.link' });
  const dial = components.dial ?? directDialer;
  const random = components.random ?? Math.random;
  const window = init.window ?? DOWNSTREAM_WINDOW;
  const backoff = createBackoff({
    minMs: init.backoffMinMs ?? BACKOFF_MIN_MS,
    maxMs: init.backoffMaxMs ?? BACKOFF_MAX_MS,
    random,
  });
  const status: LinkStatus = { connected: false, connects: 0 };
  let pumpHook: (() => void) | undefined;

  function connectOnce(url: string, signal: AbortSignal): Promise<{ welcomed: boolean; code: number }> {
    const headers: Record<string, string> = {};
    const token = init.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let ws: WebSocket;
    try {
      ws = dial(url, {
        protocols: [FEDMESH_SUBPROTOCOL],
        headers,
        handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
        maxPayload: MAX_DOWNSTREAM_FRAME_BYTES,
      });
    } catch (err) {
      log.warn({ err, endpoint: url }, 'cannot dial');
      return Promise.resolve({ welcomed: false, code: 1006 });
    }
    return new Promise((resolve) => {
      let welcome: WelcomeFrame | undefined;
      let closing = false;
      let stream: string | null = store.position().stream;
      let applied = store.position().seq;
      let lost = false; // a gap was seen: ignore data frames until the next sync-begin
      let snapshot: Set<string> | undefined;
      let batch: StoreOp[] = [];
      let toGrant = 0;
      let commitQueued = false;
      let reportCredit = 0;
      const inflight = new Map<number, string>();
      const inflightKeys = new Set<string>();
      const retryAt = new Map<number, number>();
      const nacks = new Map<number, number>();
      let retryTimer: NodeJS.Timeout | undefined;
      let lastRecv = performance.now();
      let lastSent = performance.now();
      let nonce = 0;
      let heartbeat: NodeJS.Timeout | undefined;
      const handshake = setTimeout(() => close(CLOSE.HEARTBEAT_TIMEOUT, 'no welcome'), HANDSHAKE_TIMEOUT_MS);

      const send = (f: FedmeshUpstreamFrame) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(encodeFedmeshFrame(f));
        lastSent = performance.now();
      };
      function close(spec: CloseSpec, detail?: string) {
        if (closing) return;
        closing = true;
        log.info({ endpoint: url, code: spec.code, detail }, 'closing link');
        try {
          ws.close(spec.code, detail ? `${spec.reason}: ${detail}`.slice(0, 123) : spec.reason);
        } catch {
          ws.terminate();
        }
        setTimeout(() => ws.terminate(), 1000).unref();
      }
      const onAbort = () => close(CLOSE.NORMAL);
      signal.addEventListener('abort', onAbort, { once: true });

      function onWelcome(w: WelcomeFrame) {
        if (w.mode === 'resume' && (w.stream !== stream || w.nextSeq !== applied + 1)) {
          close(CLOSE.MALFORMED, 'welcome does not resume our position');
          return;
        }
        if (w.mode === 'resync') {
          stream = w.stream;
          applied = w.nextSeq - 1;
          snapshot = undefined;
        }
        welcome = w;
        clearTimeout(handshake);
        reportCredit = w.credit;
        status.connected = true;
        status.endpoint = url;
        status.replica = w.replica;
        status.stream = w.stream;
        status.connects++;
        backoff.reset();
        log.info({ endpoint: url, replica: w.replica, mode: w.mode }, 'connected to gm');
        observer?.welcome?.(w, url);
        const tick = Math.max(50, Math.min(1000, Math.floor(w.heartbeatIntervalMs / 2)));
        heartbeat = setInterval(() => {
          const now = performance.now();
          if (now - lastRecv > w.heartbeatTimeoutMs) close(CLOSE.HEARTBEAT_TIMEOUT, 'gm silent');
          else if (now - lastSent >= w.heartbeatIntervalMs) {
            send({ type: 'ping', nonce: ++nonce, deadlineMs: w.heartbeatTimeoutMs });
          }
        }, tick);
        pumpHook = pump;
        pump();
      }

      function onData(f: Extract<FedmeshDownstreamFrame, { seq: number }>) {
        toGrant++;
        if (lost && f.type !== 'sync-begin') return scheduleCommit();
        if (lost) {
          lost = false;
          applied = f.seq - 1;
        }
        if (f.seq <= applied) return scheduleCommit(); // a duplicate after a resume
        if (f.seq !== applied + 1) {
          log.warn({ expected: applied + 1, got: f.seq }, 'gap in the downstream, asking for a resync');
          lost = true;
          send({ type: 'resync-request', reason: `expected seq ${applied + 1}, got ${f.seq}` });
          return scheduleCommit();
        }
        applied = f.seq;
        if (f.type === 'sync-begin') snapshot = new Set();
        else if (f.type === 'sync-end') {
          batch.push({ op: 'retain', keys: snapshot ?? new Set() });
          snapshot = undefined;
        } else if (f.op === 'upsert') {
          snapshot?.add(storeKey(f.kind, f.namespace, f.name));
          batch.push({ op: 'upsert', kind: f.kind, namespace: f.namespace, name: f.name, object: f.object });
        } else batch.push({ op: 'delete', kind: f.kind, namespace: f.namespace, name: f.name });
        scheduleCommit();
      }

      function scheduleCommit() {
        if (commitQueued) return;
        commitQueued = true;
        setImmediate(commit);
      }

      // One transaction for every frame that arrived in this turn of the event loop, then ack + credit.
      function commit() {
        commitQueued = false;
        if (closing) return;
        const ops = batch;
        batch = [];
        const pos = store.position();
        const moved = pos.stream !== stream || pos.seq !== applied;
        if (ops.length || moved) {
          try {
            store.apply(ops, { stream, seq: applied });
          } catch (err) {
            log.error({ err }, 'cannot write the store');
            close(CLOSE.INTERNAL_ERROR, 'store write failed');
            return;
          }
          if (applied > 0) send({ type: 'ack', seq: applied });
          observer?.applied?.(ops, applied);
        }
        if (toGrant > 0) {
          send({ type: 'credit', frames: Math.min(toGrant, 1_000_000) });
          toGrant = 0;
        }
      }

      function pump() {
        if (!welcome || closing) return;
        const now = performance.now();
        const blocked = new Set<string>(inflightKeys);
        let wakeAt: number | undefined;
        for (const e of reportCredit > 0 ? store.outbox(OUTBOX_SCAN) : []) {
          if (reportCredit <= 0) break;
          if (inflight.has(e.seq)) continue;
          const key = storeKey(e.kind, e.namespace, e.name);
          if (blocked.has(key)) continue;
          const due = retryAt.get(e.seq);
          if (due !== undefined && due > now) {
            blocked.add(key); // later reports of this object wait behind it: order is kept
            wakeAt = Math.min(wakeAt ?? due, due);
            continue;
          }
          retryAt.delete(e.seq);
          blocked.add(key);
          inflight.set(e.seq, key);
          inflightKeys.add(key);
          reportCredit--;
          const { seq, kind, namespace, name, status: st, reportedAt } = e;
          send({
            type: 'report',
            id: { instance: store.instance, seq },
            kind,
            namespace,
            name,
            status: st,
            reportedAt,
          });
        }
        if (wakeAt !== undefined && retryTimer === undefined) {
          retryTimer = setTimeout(
            () => {
              retryTimer = undefined;
              pump();
            },
            Math.max(1, wakeAt - now),
          );
        }
      }

      function settle(id: ReportId): number | undefined {
        if (id.instance !== store.instance) return undefined;
        const key = inflight.get(id.seq);
        if (key === undefined) return undefined;
        inflight.delete(id.seq);
        inflightKeys.delete(key);
        return id.seq;
      }

      function onNack(n: NackFrame) {
        const seq = settle(n.reportId);
        if (seq === undefined) return;
        const entry = store.outbox(OUTBOX_SCAN).find((e) => e.seq === seq);
        const gone = entry !== undefined && !store.getObject(entry.kind, entry.namespace, entry.name);
        if (!n.retryable || (n.code === 'NOT_FOUND' && gone)) {
          log.warn({ seq, code: n.code, reason: n.reason }, 'report rejected, dropped');
          store.remove(seq);
        } else {
          const tries = (nacks.get(seq) ?? 0) + 1;
          nacks.set(seq, tries);
          const delay = Math.min(REPORT_RETRY_MAX_MS, REPORT_RETRY_MIN_MS * 2 ** (tries - 1)) * (0.5 + random() / 2);
          retryAt.set(seq, performance.now() + delay);
          log.debug({ seq, code: n.code, delay }, 'report nacked, will retry');
        }
        pump();
      }

      function onFrame(f: FedmeshDownstreamFrame) {
        if (!welcome) {
          if (f.type === 'welcome') onWelcome(f);
          else close(CLOSE.MALFORMED, 'expected welcome first');
          return;
        }
        switch (f.type) {
          case 'welcome':
            close(CLOSE.MALFORMED, 'second welcome');
            return;
          case 'object':
          case 'sync-begin':
          case 'sync-end':
            onData(f);
            return;
          case 'ack': {
            const seq = settle(f.reportId);
            if (seq !== undefined) {
              store.remove(seq);
              nacks.delete(seq);
              retryAt.delete(seq);
              observer?.acked?.(seq);
            }
            pump();
            return;
          }
          case 'nack':
            onNack(f);
            return;
          case 'credit':
            reportCredit += f.frames;
            pump();
            return;
          case 'ping':
            send({ type: 'pong', nonce: f.nonce });
            return;
          case 'pong':
            return;
        }
      }

      ws.on('open', () => {
        const pos = { stream, seq: stream === null ? 0 : applied };
        send({
          type: 'hello',
          node: init.node,
          lcVersion: init.lcVersion,
          instance: store.instance,
          stream: pos.stream,
          lastDownstreamSeq: pos.seq,
          credit: window,
        });
      });
      ws.on('message', (data: Buffer) => {
        if (closing) return;
        let f: FedmeshDownstreamFrame;
        try {
          f = decodeFedmeshFrame(data, { maxBytes: MAX_DOWNSTREAM_FRAME_BYTES, direction: 'downstream' });
        } catch (err) {
          if (!isWireError(err)) throw err;
          close(closeForWireError(err), err.code);
          return;
        }
        lastRecv = performance.now();
        onFrame(f);
      });
      ws.on('error', (err) => log.debug({ err, endpoint: url }, 'link error'));
      ws.once('close', (code, reasonBuf) => {
        const reason = reasonBuf.toString();
        closing = true;
        clearTimeout(handshake);
        clearInterval(heartbeat);
        clearTimeout(retryTimer);
        signal.removeEventListener('abort', onAbort);
        if (pumpHook === pump) pumpHook = undefined;
        status.connected = false;
        if (welcome) log.info({ endpoint: url, code, reason }, 'disconnected from gm');
        else log.debug({ endpoint: url, code, reason }, 'gm endpoint failed');
        observer?.closed?.(code, reason, welcome !== undefined);
        resolve({ welcomed: welcome !== undefined, code });
      });
    });
  }

  return {
    status: () => ({ ...status }),
    kick: () => pumpHook?.(),
    async start(signal) {
      const n = init.endpoints.length;
      let i = Math.floor(random() * n);
      let failedInRow = 0;
      while (!signal.aborted) {
        const url = init.endpoints[i % n] as string;
        i++;
        const r = await connectOnce(url, signal);
        if (signal.aborted) break;
        failedInRow = r.welcomed ? 0 : failedInRow + 1;
        let wait = 0;
        if (r.code === CLOSE.UNAUTHENTICATED.code || r.code === CLOSE.FORBIDDEN.code) {
          wait = Math.max(AUTH_RETRY_MS, backoff.next());
        } else if (r.code === CLOSE.REPLACED.code || r.code === CLOSE.UNSUPPORTED_VERSION.code) {
          wait = backoff.next();
        } else if (failedInRow > 0 && failedInRow % n === 0) {
          wait = backoff.next(); // every endpoint failed once more: back off before the next round
        }
        if (wait) await sleep(wait, signal);
      }
    },
  };
}
