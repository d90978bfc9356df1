/**
 * Dialling one GM URL up to the WebSocket upgrade (lc/link.ts runs the protocol on the opened
 * socket). Split from the session so a path can be probed with a real upgrade, carrying the LC's
 * credential, and the probe's socket become the next session without a second dial.
 */
import WebSocket from 'ws';
import type { Logger } from '../common/log.ts';
import { FEDMESH_SUBPROTOCOL } from '../common/wire/index.ts';
import { HANDSHAKE_TIMEOUT_MS, MAX_DOWNSTREAM_FRAME_BYTES } from './constants.ts';

/** What ws reports when the connection ended without a close frame (the peer died, the network broke). */
export const ABNORMAL_CLOSURE = 1006;

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

/** How a dial or a session ended. */
export interface Ended {
  /** The WebSocket upgrade succeeded (a GM, or something speaking for one, answered). */
  opened: boolean;
  welcomed: boolean;
  code: number;
  /** Welcomed and up for at least `stableConnectionMs`. */
  stable: boolean;
  /** We dropped it for silence (the LC heartbeat, or no welcome in time): the path looks dead. */
  silent: boolean;
  /** Not welcomed and closed by us: what answered does not speak the protocol as a GM does (a forged peer). */
  badPeer?: boolean;
}

/** A socket past its upgrade, not yet used: hand it to `session`. */
export interface Opened {
  url: string;
  ws: WebSocket;
  /** Closes it unused (e.g. a better path came up meanwhile). */
  discard(): void;
  /** Set when the socket closed before a session took it. */
  early?: { code: number; reason: string };
}

export const failed = (code: number, silent = false): Ended => ({
  opened: false,
  welcomed: false,
  code,
  stable: false,
  silent,
});

/** Dials `url` (bearer `token` if any) and resolves at the upgrade, or with how the dial failed. */
export function openSocket(
  url: string,
  signal: AbortSignal,
  c: { dial: Dialer; log: Logger; token?: string; timeoutMs?: number },
): Promise<Opened | Ended> {
  const { log } = c;
  const timeoutMs = c.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const headers: Record<string, string> = {};
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  let ws: WebSocket;
  try {
    ws = c.dial(url, {
      protocols: [FEDMESH_SUBPROTOCOL],
      headers,
      handshakeTimeoutMs: timeoutMs,
      maxPayload: MAX_DOWNSTREAM_FRAME_BYTES,
    });
  } catch (err) {
    log.warn({ err, endpoint: url }, 'cannot dial');
    return Promise.resolve(failed(ABNORMAL_CLOSURE));
  }
  return new Promise((resolve) => {
    // ws's handshakeTimeout covers the upgrade; this also covers a dialer that never answers.
    const timer = setTimeout(() => ws.terminate(), timeoutMs + 100);
    const onAbort = () => ws.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      ws.off('open', onOpen);
      ws.off('close', onClose);
    };
    ws.on('error', (err: Error) => log.debug({ err, endpoint: url }, 'link error'));
    function onOpen() {
      done();
      const opened: Opened = {
        url,
        ws,
        discard() {
          ws.terminate();
        },
      };
      // A close before the session takes the socket (a refusal right after the upgrade) is kept for it.
      ws.once('close', (code: number, reason: Buffer) => {
        opened.early ??= { code, reason: reason.toString() };
      });
      resolve(opened);
    }
    function onClose(code: number) {
      done();
      log.debug({ endpoint: url, code }, 'gm endpoint failed');
      resolve(failed(code));
    }
    ws.once('open', onOpen);
    ws.once('close', onClose);
  });
}
