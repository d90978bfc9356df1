/**
 * The LC's link to the GM replicas, fedmesh v1 (common/wire/PROTOCOL.md): tries the endpoints in
 * turn, waiting a jittered backoff before every reconnect (reset only by a connection that stayed
 * up a while; only such a one, ended by 1001/1006, moves on to the next endpoint at once); runs the
 * handshake and heartbeats; hands downstream frames to downstream.ts (applied to the store with the
 * stream position before they are acked) and upstream reports to reports.ts (ordering, retries,
 * dead letters, suspects).
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
  MAX_REPORT_BYTES,
  STABLE_CONNECTION_MS,
} from './constants.ts';
import { createDownstream } from './downstream.ts';
import { createReportSender, type ReportSession } from './reports.ts';
import type { DeadLetter, LcStore, StoreOp } from './store/types.ts';

/** What ws reports when the connection ended without a close frame (the peer died, the network broke). */
const ABNORMAL_CLOSURE = 1006;

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
  /** The GM's frame limit (bytes): a report whose frame exceeds it is dead-lettered, not sent. Default MAX_REPORT_BYTES. */
  maxReportBytes?: number;
  /** How long (ms) a connection must have lasted to reset the backoff. Default STABLE_CONNECTION_MS. */
  stableConnectionMs?: number;
}

/** Hooks for tests, the bench and metrics; all optional. */
export interface LinkObserver {
  welcome?(w: WelcomeFrame, endpoint: string): void;
  applied?(ops: StoreOp[], seq: number): void;
  acked?(seq: number): void;
  closed?(code: number, reason: string, welcomed: boolean): void;
  /** A dial is about to start (every attempt, successful or not). */
  dialing?(endpoint: string): void;
  /** A report was moved to the dead letters. */
  deadLettered?(letter: DeadLetter): void;
}

export interface LinkComponents {
  store: LcStore;
  log: Logger;
  dial?: Dialer;
  random?: () => number;
  observer?: LinkObserver;
  /** Waits between dials; injected by tests to see the delays. Default common/async sleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface LinkStatus {
  connected: boolean;
  endpoint?: string;
  replica?: string;
  stream?: string;
  /** Successful handshakes so far. */
  connects: number;
  /** Dial attempts so far. */
  dials: number;
  /** Reports suspected of a 4400/1009 close, being sent alone until acked or dead-lettered. */
  suspects: number;
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
  const wait = components.sleep ?? sleep;
  const stableMs = init.stableConnectionMs ?? STABLE_CONNECTION_MS;
  const status: Omit<LinkStatus, 'suspects'> = { connected: false, connects: 0, dials: 0 };
  const reports = createReportSender({
    store,
    log,
    random,
    maxReportBytes: init.maxReportBytes ?? MAX_REPORT_BYTES,
    acked: (seq) => observer?.acked?.(seq),
    deadLettered: (letter) => observer?.deadLettered?.(letter),
  });
  let pumpHook: (() => void) | undefined;
  interface Ended {
    welcomed: boolean;
    code: number;
    /** Welcomed and up for at least `stableMs`. */
    stable: boolean;
  }

  function connectOnce(url: string, signal: AbortSignal): Promise<Ended> {
    status.dials++;
    observer?.dialing?.(url);
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
      return Promise.resolve({ welcomed: false, code: ABNORMAL_CLOSURE, stable: false });
    }
    return new Promise((resolve) => {
      let welcome: WelcomeFrame | undefined;
      let welcomedAt = 0;
      let closing = false;
      // A close we started (or ws started on a local error) echoes our code back: not the GM's verdict.
      let ours = false;
      let upstream: ReportSession | undefined;
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
        ours = true;
        log.info({ endpoint: url, code: spec.code, detail }, 'closing link');
        try {
          ws.close(spec.code, detail ? `${spec.reason}: ${detail}`.slice(0, 123) : spec.reason);
        } catch {
          ws.terminate();
        }
        setTimeout(() => ws.terminate(), 1000).unref();
      }
      const onAbort = () => close(CLOSE.NORMAL);
      const downstream = createDownstream({
        store,
        log,
        send,
        open: () => !closing,
        fail: close,
        applied: (ops, seq) => observer?.applied?.(ops, seq),
      });
      signal.addEventListener('abort', onAbort, { once: true });

      function onWelcome(w: WelcomeFrame) {
        if (!downstream.welcome(w)) {
          close(CLOSE.MALFORMED, 'welcome does not resume our position');
          return;
        }
        welcome = w;
        welcomedAt = performance.now();
        clearTimeout(handshake);
        status.connected = true;
        status.endpoint = url;
        status.replica = w.replica;
        status.stream = w.stream;
        status.connects++;
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
        upstream = reports.open({
          credit: w.credit,
          open: () => !closing,
          send(text) {
            if (ws.readyState !== ws.OPEN) return;
            ws.send(text);
            lastSent = performance.now();
          },
        });
        pumpHook = upstream.pump;
        upstream.pump();
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
            downstream.data(f);
            return;
          case 'ack':
            upstream?.ack(f.reportId);
            return;
          case 'nack':
            upstream?.nack(f);
            return;
          case 'credit':
            upstream?.credit(f.frames);
            return;
          case 'ping':
            send({ type: 'pong', nonce: f.nonce });
            return;
          case 'pong':
            return;
        }
      }

      ws.on('open', () => {
        send({
          type: 'hello',
          node: init.node,
          lcVersion: init.lcVersion,
          instance: store.instance,
          ...downstream.position(),
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
      ws.on('error', (err) => {
        ours = true; // ws closes by itself on a local error (e.g. a downstream frame over maxPayload)
        log.debug({ err, endpoint: url }, 'link error');
      });
      ws.once('close', (code, reasonBuf) => {
        const reason = reasonBuf.toString();
        closing = true;
        upstream?.ended(code, reason, !ours);
        clearTimeout(handshake);
        clearInterval(heartbeat);
        signal.removeEventListener('abort', onAbort);
        if (pumpHook === upstream?.pump) pumpHook = undefined;
        status.connected = false;
        if (welcome) log.info({ endpoint: url, code, reason }, 'disconnected from gm');
        else log.debug({ endpoint: url, code, reason }, 'gm endpoint failed');
        observer?.closed?.(code, reason, welcome !== undefined);
        const stable = welcome !== undefined && performance.now() - welcomedAt >= stableMs;
        resolve({ welcomed: welcome !== undefined, code, stable });
      });
    });
  }

  return {
    status: () => ({ ...status, suspects: reports.suspects() }),
    kick: () => pumpHook?.(),
    async start(signal) {
      const n = init.endpoints.length;
      let i = Math.floor(random() * n);
      while (!signal.aborted) {
        const url = init.endpoints[i % n] as string;
        i++;
        const r = await connectOnce(url, signal);
        if (signal.aborted) break;
        // Only a connection that served a while proves the GMs good: a welcome followed at once by a
        // close (a poison frame, a replica crash-looping) must keep climbing the backoff.
        if (r.stable) backoff.reset();
        const died = r.code === CLOSE.GOING_AWAY.code || r.code === ABNORMAL_CLOSURE;
        let delay = r.stable && died ? 0 : backoff.next(); // fast failover after a replica went away
        if (r.code === CLOSE.UNAUTHENTICATED.code || r.code === CLOSE.FORBIDDEN.code) {
          delay = Math.max(AUTH_RETRY_MS, delay);
        }
        if (delay > 0) await wait(delay, signal);
      }
    },
  };
}
