/**
 * A fedmesh LC's connection (PROTOCOL.md): hello → welcome (resume or resync), numbered data frames
 * within the LC's credit, cumulative acks, reports acked only after their API write succeeded (or
 * nacked with a code), heartbeats both ways, resync on request.
 */
import type { WebSocket } from 'ws';
import {
  CLOSE,
  closeForWireError,
  decodeFedmeshFrame,
  encodeFedmeshFrame,
  type FedmeshDownstreamFrame,
  type FedmeshUpstreamFrame,
  type HelloFrame,
  isWireError,
  type ReportFrame,
} from '../../common/wire/index.ts';
import type { Confirmation } from './auth.ts';
import { REPORT_WINDOW, SEND_HIGH_WATER_BYTES, SEND_RETRY_MS, WRITES_PER_CONNECTION } from './constants.ts';
import { closeSocket, flushScheduler, type Session, type SessionContext } from './session.ts';
import { createStream, type Stream } from './stream.ts';

/** Where a fedmesh session finds and keeps streams: they outlive connections (resume). */
export interface StreamStore {
  get(node: string): Stream | undefined;
  set(node: string, stream: Stream): void;
}

const TEXT = { binary: false } as const;
const FEDMESH_LABELS = Object.freeze({ dialect: 'fedmesh' });

export function createFedmeshSession(
  ws: WebSocket,
  node: string,
  ctx: SessionContext,
  streams: StreamStore,
  confirmation: Confirmation,
): Session {
  // No child logger per session (10k of them cost megabytes): the fields go on each line instead.
  const log = ctx.log;
  const at = { node, dialect: 'fedmesh' };
  let stream: Stream | undefined;
  let credit = 0;
  let reportCredit = 0;
  let grant = 0;
  let resend: Array<{ seq: number; data: Buffer }> = [];
  let grantQueued = false;
  let closing = false;
  const pendingReports: ReportFrame[] = [];
  let writing = 0;
  // Reports wait until a TokenReview confirmed the credentials (auth.ts); downstream does not.
  let trusted = false;
  const openedAt = performance.now();
  let lastRecv = openedAt;
  let lastSent = openedAt;
  let nonce = 0;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

  // Data frames come as the UTF-8 bytes of a text frame (encoded once per fan-out); control frames as strings.
  const send = (frame: string | Buffer) => {
    if (typeof frame === 'string') ws.send(frame);
    else ws.send(frame, TEXT);
    lastSent = performance.now();
  };
  const sendFrame = (f: FedmeshDownstreamFrame) => send(encodeFedmeshFrame(f));

  function close(spec: Parameters<Session['close']>[0], detail?: string) {
    if (closing) return;
    closing = true;
    closeSocket(ws, spec, detail);
  }

  const scheduleFlush = flushScheduler(
    ws,
    () => flush(),
    () => !closing && stream !== undefined,
  );

  function flush() {
    if (!stream) return;
    while (!closing && credit > 0 && ws.readyState === ws.OPEN) {
      if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES) {
        scheduleFlush(SEND_RETRY_MS);
        return;
      }
      const data = resend.length ? resend.shift()?.data : stream.nextFrame();
      if (data === undefined) return;
      credit--;
      send(data);
      ctx.metrics.downstream.inc(1, FEDMESH_LABELS);
    }
  }

  function onHello(h: HelloFrame) {
    if (h.node !== node) {
      close(CLOSE.FORBIDDEN, 'hello.node differs from the credential node');
      return;
    }
    const live = streams.get(node);
    let mode: 'resume' | 'resync';
    if (live && h.stream === live.id && live.canResume(h.lastDownstreamSeq)) {
      mode = 'resume';
      stream = live;
      stream.ack(h.lastDownstreamSeq);
      resend = stream.log.filter((e) => e.seq > h.lastDownstreamSeq);
    } else {
      mode = 'resync';
      stream = createStream(ctx.replicaId, node, ctx);
      stream.feed.startSnapshot();
      streams.set(node, stream);
    }
    stream.detachedAt = undefined;
    credit = h.credit;
    reportCredit = REPORT_WINDOW;
    const welcome = {
      type: 'welcome' as const,
      replica: ctx.replicaId,
      stream: stream.id,
      mode,
      nextSeq: mode === 'resume' ? h.lastDownstreamSeq + 1 : stream.seq + 1,
      heartbeatIntervalMs: ctx.heartbeatIntervalMs,
      heartbeatTimeoutMs: ctx.heartbeatTimeoutMs,
      credit: REPORT_WINDOW,
    };
    sendFrame(welcome);
    // The snapshot (or the resent frames) follow on the next turn of the event loop: when a replica
    // dies and its LCs all arrive here at once, admitting every one of them comes before streaming.
    scheduleFlush();
    log.debug({ ...at, mode, stream: stream.id }, 'lc welcomed');
  }

  function onReport(r: ReportFrame) {
    if (reportCredit <= 0) {
      close(CLOSE.CREDIT_EXCEEDED, 'report without credit');
      return;
    }
    reportCredit--;
    pendingReports.push(r);
    pump();
  }

  // Runs reports with bounded concurrency; the applier serialises those of one object in order.
  function pump() {
    if (!trusted) {
      if (pendingReports.length) confirmation.expedite();
      return;
    }
    while (writing < WRITES_PER_CONNECTION && pendingReports.length) {
      const r = pendingReports.shift() as ReportFrame;
      writing++;
      const t0 = performance.now();
      const report = {
        node,
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        content: r.status,
        id: r.id,
        reportedAt: r.reportedAt,
      };
      void ctx.applier.apply(report, 'fedmesh', ctx.signal).then((outcome) => {
        writing--;
        ctx.metrics.applySeconds.observe((performance.now() - t0) / 1000);
        if (closing || ws.readyState !== ws.OPEN) return;
        if (outcome.ok) sendFrame({ type: 'ack', reportId: r.id });
        else {
          sendFrame({
            type: 'nack',
            reportId: r.id,
            code: outcome.code,
            reason: outcome.reason.slice(0, 1024),
            retryable: outcome.retryable,
          });
        }
        grant++;
        scheduleGrant();
        pump();
      });
    }
  }

  function scheduleGrant() {
    if (grantQueued) return;
    grantQueued = true;
    setImmediate(() => {
      grantQueued = false;
      if (grant > 0 && !closing && ws.readyState === ws.OPEN) {
        reportCredit += grant;
        sendFrame({ type: 'credit', frames: grant });
        grant = 0;
      }
    });
  }

  function onFrame(f: FedmeshUpstreamFrame) {
    if (!stream) {
      if (f.type !== 'hello') close(CLOSE.MALFORMED, 'expected hello first');
      else onHello(f);
      return;
    }
    switch (f.type) {
      case 'hello':
        close(CLOSE.MALFORMED, 'second hello');
        return;
      case 'ack':
        if (!stream.ack(f.seq)) close(CLOSE.MALFORMED, 'ack of a seq never sent');
        return;
      case 'credit':
        credit = Math.min(credit + f.frames, Number.MAX_SAFE_INTEGER);
        scheduleFlush();
        return;
      case 'report':
        onReport(f);
        return;
      case 'ping':
        sendFrame({ type: 'pong', nonce: f.nonce });
        return;
      case 'pong':
        return;
      case 'resync-request':
        log.info({ ...at, reason: f.reason }, 'lc asked for a resync');
        stream.feed.startSnapshot();
        scheduleFlush();
        return;
    }
  }

  ws.on('message', (data: Buffer) => {
    if (closing) return;
    let frame: FedmeshUpstreamFrame;
    try {
      frame = decodeFedmeshFrame(data, { maxBytes: ctx.maxFrameBytes, direction: 'upstream' });
    } catch (err) {
      if (!isWireError(err)) throw err;
      log.info({ ...at, code: err.code }, 'malformed frame, closing');
      close(closeForWireError(err), err.code);
      return;
    }
    lastRecv = performance.now();
    onFrame(frame);
  });
  void confirmation.verdict.then((ok) => {
    if (!ok) {
      log.warn(at, 'credentials rejected on review, closing');
      close(CLOSE.UNAUTHENTICATED, 'credentials rejected on review');
      return;
    }
    trusted = true;
    pump();
  });
  ws.on('error', (err) => log.debug({ ...at, err }, 'socket error'));
  ws.once('close', () => {
    closing = true;
    if (stream && streams.get(node) === stream) stream.detachedAt = performance.now();
  });

  return {
    node,
    dialect: 'fedmesh',
    since: Date.now(),
    closed,
    notify(key) {
      // The stream (not the session) holds the feed, so a detached stream keeps collecting changes.
      streams.get(node)?.feed.markDirty(key);
      scheduleFlush('now');
    },
    close,
    sweep(now) {
      if (closing) return;
      if (!stream && now - openedAt > ctx.helloTimeoutMs) {
        close(CLOSE.HEARTBEAT_TIMEOUT, 'no hello');
        return;
      }
      if (now - lastRecv > ctx.heartbeatTimeoutMs) {
        close(CLOSE.HEARTBEAT_TIMEOUT, 'no frame within the timeout');
        return;
      }
      if (stream && now - lastSent >= ctx.heartbeatIntervalMs) {
        // Hand-built (the hot frame of an idle hub); the shape is the codec's PingFrame.
        send(`{"type":"ping","nonce":${++nonce},"deadlineMs":${ctx.heartbeatTimeoutMs}}`);
      }
    },
  };
}
