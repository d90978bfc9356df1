/**
 * A stock Sedna LC's connection (Sedna v1, no subprotocol): on connect an `insert` of every object
 * routed to the node, then `insert` for every change and `delete` for objects deleted or routed
 * away. Upstream `status` frames are applied like fedmesh reports, without acks (Sedna has none);
 * refused reports are logged and counted. Liveness by WebSocket ping (Go's client answers pongs).
 */
import type { WebSocket } from 'ws';
import type { Report } from '../../common/sedna/status.ts';
import {
  CLOSE,
  closeForWireError,
  decodeSednaUpstream,
  isWireError,
  kindOfSedna,
  type SednaUpstreamFrame,
} from '../../common/wire/index.ts';
import type { Confirmation } from './auth.ts';
import { SEDNA_PING_INTERVAL_MS, SEND_HIGH_WATER_BYTES, SEND_RETRY_MS, WRITES_PER_CONNECTION } from './constants.ts';
import { createFeed } from './feed.ts';
import { closeSocket, flushScheduler, type Session, type SessionContext, sednaDelete, sednaInsert } from './session.ts';

const SEDNA_LABELS = Object.freeze({ dialect: 'sedna' });

export function createSednaSession(
  ws: WebSocket,
  node: string,
  ctx: SessionContext,
  confirmation: Confirmation,
): Session {
  // No child logger per session (10k of them cost megabytes): the fields go on each line instead.
  const log = ctx.log;
  const at = { node, dialect: 'sedna' };
  const feed = createFeed(node, ctx);
  feed.startSnapshot();
  let inFlight = 0;
  const pending: Report[] = [];
  // Reports wait until a TokenReview confirmed the credentials (auth.ts); downstream does not.
  let trusted = false;
  let pingedAt: number | undefined;
  let lastPongAt = performance.now();
  let closing = false;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

  const scheduleFlush = flushScheduler(
    ws,
    () => flush(),
    () => !closing,
  );

  function flush() {
    while (!closing && ws.readyState === ws.OPEN) {
      if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES) {
        scheduleFlush(SEND_RETRY_MS);
        return;
      }
      const op = feed.next();
      if (!op) return;
      if (op.op === 'upsert') ws.send(sednaInsert(op.kind, op.obj), { binary: false });
      else if (op.op === 'delete') ws.send(sednaDelete(op.kind, op.namespace, op.name));
      else continue; // Sedna has no snapshot markers.
      ctx.metrics.downstream.inc(1, SEDNA_LABELS);
    }
  }

  function close(spec: Parameters<Session['close']>[0], detail?: string) {
    closing = true;
    closeSocket(ws, spec, detail);
  }

  ws.on('message', (data: Buffer) => {
    if (closing) return;
    let frame: SednaUpstreamFrame;
    try {
      frame = decodeSednaUpstream(data, { maxBytes: ctx.maxFrameBytes });
    } catch (err) {
      if (!isWireError(err)) throw err;
      log.info({ ...at, code: err.code }, 'malformed frame, closing');
      close(closeForWireError(err), err.code);
      return;
    }
    if (frame.type === 'hello') return;
    const { namespace, resourceKind, resourceName } = frame.header;
    pending.push({ node, kind: kindOfSedna(resourceKind), namespace, name: resourceName, content: frame.content });
    // Backpressure: stop reading while this LC has many reports waiting.
    if (pending.length >= WRITES_PER_CONNECTION) ws.pause();
    pump();
  });

  // Applies waiting reports, a few at a time (the applier keeps each object's reports in order).
  function pump() {
    if (!trusted && pending.length) confirmation.expedite();
    while (trusted && !closing && inFlight < WRITES_PER_CONNECTION && pending.length) {
      const report = pending.shift() as Report;
      inFlight++;
      void ctx.applier.apply(report, 'sedna', ctx.signal).then(() => {
        inFlight--;
        if (pending.length < WRITES_PER_CONNECTION && !closing) ws.resume();
        pump();
      });
    }
  }
  void confirmation.verdict.then((ok) => {
    if (!ok) {
      log.warn(at, 'credentials rejected on review, closing');
      close(CLOSE.UNAUTHENTICATED, 'credentials rejected on review');
      return;
    }
    trusted = true;
    pump();
  });
  ws.on('pong', () => {
    lastPongAt = performance.now();
    pingedAt = undefined;
  });
  ws.on('error', (err) => log.debug({ ...at, err }, 'socket error'));
  ws.once('close', () => {
    closing = true;
  });

  scheduleFlush();
  return {
    node,
    dialect: 'sedna',
    since: Date.now(),
    closed,
    notify(key) {
      feed.markDirty(key);
      scheduleFlush('now');
    },
    close,
    sweep(now) {
      if (closing) return;
      if (pingedAt !== undefined && now - pingedAt > SEDNA_PING_INTERVAL_MS) {
        close(CLOSE.HEARTBEAT_TIMEOUT, 'no pong');
        return;
      }
      if (pingedAt === undefined && now - lastPongAt >= SEDNA_PING_INTERVAL_MS) {
        pingedAt = now;
        ws.ping();
      }
    },
  };
}
