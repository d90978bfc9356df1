/**
 * Test helpers for lc/ (not exported by index.ts): a scripted GM that hands each connection to the
 * test, which reads and writes frames by hand, and the frames it typically sends.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { createLink, type Link, type LinkComponents, type LinkInit } from './link.ts';
import { createPathManager, type PathManagerComponents } from './paths/index.ts';
import type { LcStore } from './store/types.ts';

export interface FakeGm {
  url: string;
  /** The next connection, in arrival order. */
  next(): Promise<Conn>;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<unknown>;
}

export interface Conn {
  ws: WebSocket;
  /** The next frame received (of `type`, if given), skipping none of the others. */
  frame(type?: string): Promise<Record<string, unknown>>;
  send(f: Record<string, unknown>): void;
  /** Resolves with the close code once the connection ended. */
  closed: Promise<number>;
}

/** `maxPayload` as the GM's ws sets it (frames beyond it are closed with 1009). */
export async function fakeGm(opts: { maxPayload?: number } = {}): Promise<FakeGm> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: () => 'fedmesh.v1',
    maxPayload: opts.maxPayload,
  });
  await new Promise((r) => wss.once('listening', r));
  const conns: Conn[] = [];
  const waiters: Array<() => void> = [];
  let accepted = 0;
  wss.on('connection', (ws) => {
    accepted++;
    ws.on('error', () => {}); // 1009 and resets surface as errors; the close code is what tests read
    conns.push(conn(ws));
    for (const w of waiters.splice(0)) w();
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    async next(): Promise<Conn> {
      while (!conns.length) await new Promise<void>((r) => waiters.push(r));
      return conns.shift() as Conn;
    },
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(r);
      }),
  };
}

function conn(ws: WebSocket): Conn {
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    queue.push(JSON.parse(String(d)));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  return {
    ws,
    closed,
    send: (f) => ws.send(JSON.stringify(f)),
    async frame(type) {
      for (;;) {
        const i = queue.findIndex((f) => type === undefined || f.type === type);
        if (i >= 0) return queue.splice(i, 1)[0] as Record<string, unknown>;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

export const welcome = (mode: 'resume' | 'resync', stream: string, nextSeq: number, credit = 10) => ({
  type: 'welcome',
  replica: 'fake',
  stream,
  mode,
  nextSeq,
  heartbeatIntervalMs: 5000,
  heartbeatTimeoutMs: 15000,
  credit,
});

export const upsert = (seq: number, name: string) => ({
  type: 'object',
  seq,
  op: 'upsert',
  kind: 'Dataset',
  namespace: 'ns',
  name,
  object: { kind: 'Dataset', metadata: { name } },
});

/** `{a: {a: ... 1}}`, `levels` objects deep. */
export function nested(levels: number): Record<string, unknown> {
  let o: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < levels; i++) o = { a: o };
  return o;
}

/** The same as JSON text, built without recursion (JSON.stringify overflows long before 100 000 levels). */
export function nestedText(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

/**
 * A link to `endpoints` (one `direct` path) run by the path manager with fast backoff and no jitter,
 * started; `stop` aborts it and waits.
 */
export function startLink(
  store: LcStore,
  endpoints: string[],
  init: Partial<LinkInit> & { backoffMinMs?: number; backoffMaxMs?: number } = {},
  components: Partial<LinkComponents> & Pick<PathManagerComponents, 'sleep'> = {},
): { link: Link; stop: () => Promise<void> } {
  const { backoffMinMs = 20, backoffMaxMs = 100, ...linkInit } = init;
  const { sleep, ...linkComponents } = components;
  const log = pino({ level: 'silent' });
  const link = createLink(
    { node: 'n1', lcVersion: 't', ...linkInit },
    { store, log, random: () => 0, ...linkComponents },
  );
  const paths = createPathManager(
    { paths: [{ name: 'direct', urls: endpoints }], backoffMinMs, backoffMaxMs },
    { link, log, random: () => 0, sleep },
  );
  const ac = new AbortController();
  const done = paths.start(ac.signal);
  return {
    link,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** Polls `pred` every 10 ms for up to 2 s, then asserts it. */
export const until = async (pred: () => boolean) => {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred());
};
