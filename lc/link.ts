/**
 * The LC's link to a GM replica, fedmesh v1 (common/wire/PROTOCOL.md): `open` dials one URL up to
 * the WebSocket upgrade, `session` runs the handshake, heartbeats, downstream frames (downstream.ts:
 * applied to the store with the stream position before they are acked) and upstream reports
 * (reports.ts: ordering, retries, dead letters, suspects) on an opened socket until it ends. Which
 * URL, on which path, and when to retry is lc/paths' decision.
 *
 * LC-side heartbeat: a WebSocket ping after `heartbeatIntervalMs` without any frame from the GM,
 * and the link is dropped (4408, socket destroyed at once) after `heartbeatTimeoutMs` of silence.
 * The GM's ws answers pings by itself, so no GM change is needed; this catches a path cut by
 * dropped packets (no RST, no FIN) within about a second instead of the protocol's 30 s.
 *
 * Seam: `dial` opens the WebSocket. The default dials directly; the mesh path dials the node mesh
 * agent's local forward, a plain ws:// URL too.
 */
import type { Logger } from '../common/log.ts';
import {
  CLOSE,
  type CloseSpec,
  closeForWireError,
  decodeFedmeshFrame,
  encodeFedmeshFrame,
  type FedmeshDownstreamFrame,
  type FedmeshUpstreamFrame,
  isWireError,
  type WelcomeFrame,
} from '../common/wire/index.ts';
import {
  DOWNSTREAM_WINDOW,
  HANDSHAKE_TIMEOUT_MS,
  LINK_HEARTBEAT_INTERVAL_MS,
  LINK_HEARTBEAT_TIMEOUT_MS,
  MAX_DOWNSTREAM_FRAME_BYTES,
  MAX_REPORT_BYTES,
  STABLE_CONNECTION_MS,
} from './constants.ts';
import { type Dialer, directDialer, type Ended, type Opened, openSocket } from './dial.ts';
import { createDownstream } from './downstream.ts';
import { createReportSender, type ReportSession } from './reports.ts';
import type { DeadLetter, LcStore, StoreOp } from './store/types.ts';

export type { Dialer, Ended, Opened } from './dial.ts';
export { directDialer };

export interface LinkInit {
  node: string;
  lcVersion: string;
  /** Bearer token for the next dial, re-read every time (projected tokens rotate); undefined sends none. */
  token?: () => string | undefined;
  /** Downstream window offered in hello. Default DOWNSTREAM_WINDOW. */
  window?: number;
  /** The GM's frame limit (bytes): a report whose frame exceeds it is dead-lettered, not sent. Default MAX_REPORT_BYTES. */
  maxReportBytes?: number;
  /** How long (ms) a connection must have lasted to count as stable. Default STABLE_CONNECTION_MS. */
  stableConnectionMs?: number;
  /** LC-side WebSocket ping after this much silence from the GM (ms). Default LINK_HEARTBEAT_INTERVAL_MS (200). */
  heartbeatIntervalMs?: number;
  /** Silence from the GM (ms) after which the link is dropped as dead. Default LINK_HEARTBEAT_TIMEOUT_MS (800). */
  heartbeatTimeoutMs?: number;
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

export interface SessionHooks {
  /**
   * Awaited when the welcome arrives, before it (and anything after it) is handled: a GM has
   * answered as one; e.g. stop the fallback then, not at the upgrade (something that upgrades may
   * be no GM).
   */
  beforeWelcome?(): Promise<void>;
  /** The welcome was handled: the session is up. */
  welcome?(): void;
}

export interface LinkSession {
  /** Ends the session now (close 1000, socket destroyed without waiting for the echo). */
  stop(detail: string): void;
  /** Resolves once the socket closed. */
  ended: Promise<Ended>;
}

export interface Link {
  /** Dials `url` up to the WebSocket upgrade: the opened socket, or how it failed. */
  open(url: string, signal: AbortSignal, opts?: { timeoutMs?: number }): Promise<Opened | Ended>;
  /** Runs the protocol on an opened socket (hello at once) until it ends or `signal` aborts (close 1000). */
  session(o: Opened, signal: AbortSignal, hooks?: SessionHooks): LinkSession;
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
  const stableMs = init.stableConnectionMs ?? STABLE_CONNECTION_MS;
  const hbInterval = init.heartbeatIntervalMs ?? LINK_HEARTBEAT_INTERVAL_MS;
  const hbTimeout = init.heartbeatTimeoutMs ?? LINK_HEARTBEAT_TIMEOUT_MS;
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

  function open(url: string, signal: AbortSignal, opts: { timeoutMs?: number } = {}): Promise<Opened | Ended> {
    status.dials++;
    observer?.dialing?.(url);
    const token = init.token?.();
    return openSocket(url, signal, { dial, log, token, timeoutMs: opts.timeoutMs }).then((r) => {
      if (!('ws' in r)) observer?.closed?.(r.code, 'dial failed', false);
      return r;
    });
  }

  function session(o: Opened, signal: AbortSignal, hooks?: SessionHooks): LinkSession {
    const { url, ws } = o;
    let welcome: WelcomeFrame | undefined;
    let welcomedAt = 0;
    let closing = false;
    let silent = false;
    let stopped = false;
    // A close we started (or ws started on a local error) echoes our code back: not the GM's verdict.
    let ours = false;
    let upstream: ReportSession | undefined;
    let lastRecv = performance.now();
    let lastSent = performance.now();
    let lastPing = 0;
    let nonce = 0;
    let heartbeat: NodeJS.Timeout | undefined;
    // Frames that arrived while `beforeWelcome` runs, handled in order once it is done.
    let gated: FedmeshDownstreamFrame[] | undefined;
    let resolveEnded: (e: Ended) => void = () => {};
    const ended = new Promise<Ended>((r) => {
      resolveEnded = r;
    });
    const handshake = setTimeout(() => {
      silent = true;
      close(CLOSE.HEARTBEAT_TIMEOUT, 'no welcome', true);
    }, HANDSHAKE_TIMEOUT_MS);

    const send = (f: FedmeshUpstreamFrame) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(encodeFedmeshFrame(f));
      lastSent = performance.now();
    };
    /** `now`: destroy the socket without waiting for the close echo (a silent path never echoes). */
    function close(spec: CloseSpec, detail?: string, now = false) {
      if (closing) return;
      closing = true;
      ours = true;
      log.info({ endpoint: url, code: spec.code, detail }, 'closing link');
      try {
        ws.close(spec.code, detail ? `${spec.reason}: ${detail}`.slice(0, 123) : spec.reason);
      } catch {
        ws.terminate();
      }
      if (now) setImmediate(() => ws.terminate());
      else setTimeout(() => ws.terminate(), 1000).unref();
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
    // Checked often enough that a dead path is noticed within a tick of the timeout.
    const tick = Math.max(20, Math.min(hbInterval, hbTimeout) / 2);
    heartbeat = setInterval(() => {
      const now = performance.now();
      const silence = now - lastRecv;
      const limit = welcome ? Math.min(hbTimeout, welcome.heartbeatTimeoutMs) : Number.POSITIVE_INFINITY;
      if (silence > limit) {
        silent = true;
        close(CLOSE.HEARTBEAT_TIMEOUT, 'gm silent', true);
        return;
      }
      if (silence >= hbInterval && now - lastPing >= hbInterval && ws.readyState === ws.OPEN) {
        lastPing = now;
        ws.ping();
      }
      if (welcome && now - lastSent >= welcome.heartbeatIntervalMs) {
        send({ type: 'ping', nonce: ++nonce, deadlineMs: welcome.heartbeatTimeoutMs });
      }
    }, tick);

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
      hooks?.welcome?.();
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
      if (gated) {
        gated.push(f);
        return;
      }
      if (!welcome) {
        if (f.type !== 'welcome') close(CLOSE.MALFORMED, 'expected welcome first');
        else if (!hooks?.beforeWelcome) onWelcome(f);
        else {
          // Nothing of this GM's is applied until the hook is done (the fallback stopped).
          gated = [];
          hooks.beforeWelcome().then(
            () => {
              const queued = gated ?? [];
              gated = undefined;
              if (closing) return;
              onWelcome(f);
              for (const g of queued) {
                if (closing) return;
                onFrame(g);
              }
            },
            (err: unknown) => {
              log.error({ err, endpoint: url }, 'before welcome failed');
              close(CLOSE.INTERNAL_ERROR, 'before welcome');
            },
          );
        }
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
    ws.on('pong', () => {
      lastRecv = performance.now();
    });
    ws.on('error', (err) => {
      ours = true; // ws closes by itself on a local error (e.g. a downstream frame over maxPayload)
      log.debug({ err, endpoint: url }, 'link error');
    });
    const onClose = (code: number, reasonBuf: Buffer) => {
      const reason = reasonBuf.toString();
      closing = true;
      upstream?.ended(code, reason, !ours);
      clearTimeout(handshake);
      clearInterval(heartbeat);
      heartbeat = undefined;
      signal.removeEventListener('abort', onAbort);
      if (pumpHook === upstream?.pump) pumpHook = undefined;
      status.connected = false;
      if (welcome) log.info({ endpoint: url, code, reason, silent }, 'disconnected from gm');
      else log.debug({ endpoint: url, code, reason }, 'gm endpoint failed');
      observer?.closed?.(code, reason, welcome !== undefined);
      const stable = welcome !== undefined && performance.now() - welcomedAt >= stableMs;
      const badPeer = welcome === undefined && ours && !signal.aborted && !stopped;
      resolveEnded({ opened: true, welcomed: welcome !== undefined, code, stable, silent, badPeer });
    };
    if (o.early) {
      // Closed between its upgrade and now (a refusal right after the upgrade): end with what ws saw.
      const e = o.early;
      setImmediate(() => onClose(e.code, Buffer.from(e.reason)));
    } else {
      ws.once('close', onClose); // also when already closing: its close event is still to come
      send({
        type: 'hello',
        node: init.node,
        lcVersion: init.lcVersion,
        instance: store.instance,
        ...downstream.position(),
        credit: window,
      });
    }
    return {
      ended,
      stop: (detail) => {
        stopped = true;
        close(CLOSE.NORMAL, detail, true);
      },
    };
  }

  return {
    open,
    session,
    status: () => ({ ...status, suspects: reports.suspects() }),
    kick: () => pumpHook?.(),
  };
}
