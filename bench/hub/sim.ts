/** What the hub benchmark measures with: /proc figures, the replica's heap, a pool, and the simulated LC. */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { sleep } from '../../common/async.ts';
import { round } from '../stats.ts';

const TICK_HZ = 100;

/** RSS (MiB) and CPU seconds (user + system) of a process, from /proc. */
export function usage(pid: number): { rssMiB: number; cpuS: number } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssMiB: rss, cpuS: (Number(f[11]) + Number(f[12])) / TICK_HZ };
}

/** The replica's V8 heap (used, reserved) and external memory in MiB, from its /metrics. */
export async function heap(port: number): Promise<{ used: number; total: number; external: number }> {
  const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const g = (name: string) => round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(m)?.[1] ?? Number.NaN) / 1048576, 1);
  return {
    used: g('nodejs_heap_size_used_bytes'),
    total: g('nodejs_heap_size_total_bytes'),
    external: g('nodejs_external_memory_bytes'),
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (x: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** A simulated fedmesh LC: no store; acks what it gets, answers pings, sends reports on demand. */
export class SimLc {
  ws!: WebSocket;
  welcomes: Array<{ at: number; replica: string }> = [];
  private ackSeq = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  /** Arrival times of sync-end frames (a snapshot complete). */
  synced: number[] = [];
  seen = new Map<string, number>();
  watch?: string;
  acked = 0;
  private reportSeq = 0;
  private onAck?: () => void;
  stopped = false;
  private i = 0;
  readonly node: string;
  readonly token: string;
  readonly urls: string[];
  constructor(node: string, token: string, urls: string[]) {
    this.node = node;
    this.token = token;
    this.urls = urls;
  }

  connect(): Promise<void> {
    const url = this.urls[this.i++ % this.urls.length] as string;
    const ws = new WebSocket(url, ['fedmesh.v1'], {
      headers: { authorization: `Bearer ${this.token}` },
      perMessageDeflate: false,
    });
    this.ws = ws;
    return new Promise((resolve) => {
      ws.on('error', () => {});
      ws.once('close', () => {
        resolve();
        if (!this.stopped) void this.connect(); // the replica is gone: the next endpoint at once
      });
      ws.once('open', () =>
        ws.send(
          JSON.stringify({
            type: 'hello',
            node: this.node,
            lcVersion: 'bench',
            instance: this.node,
            stream: null,
            lastDownstreamSeq: 0,
            credit: 100_000,
          }),
        ),
      );
      ws.on('message', (data: Buffer) => {
        // Data frames are only looked at, not decoded: 1k simulated LCs share this process's one
        // thread, and their decoding would be counted as fan-out latency of the hub.
        const head = data.toString('latin1', 0, 48);
        if (head.startsWith('{"type":"object"') || head.startsWith('{"type":"sync')) {
          if (head.startsWith('{"type":"sync-end"')) this.synced.push(performance.now());
          if (this.watch !== undefined && !this.seen.has(this.watch) && data.includes(this.watch)) {
            this.seen.set(this.watch, performance.now());
          }
          // Acks are cumulative: one per 50 ms for the highest seq, as an LC batching its store writes
          // would. An ack per frame would have this one thread send 1k acks in the middle of a fan-out
          // and delay the timestamps of the frames still arriving.
          this.ackSeq = Math.max(this.ackSeq, Number(/"seq":(\d+)/.exec(head)?.[1] ?? 0));
          this.ackTimer ??= setTimeout(() => {
            this.ackTimer = undefined;
            if (ws.readyState === WebSocket.OPEN) ws.send(`{"type":"ack","seq":${this.ackSeq}}`);
          }, 50);
          return;
        }
        const text = data.toString();
        const f = JSON.parse(text) as { type: string; replica?: string; nonce?: number; reportId?: unknown };
        if (f.type === 'welcome') {
          // A new stream (always, here: hello never asks to resume) numbers its frames from 1 again.
          clearTimeout(this.ackTimer);
          this.ackTimer = undefined;
          this.ackSeq = 0;
          this.welcomes.push({ at: performance.now(), replica: f.replica as string });
          resolve();
        } else if (f.type === 'ping') ws.send(`{"type":"pong","nonce":${f.nonce}}`);
        else if (f.type === 'ack' || f.type === 'nack') {
          this.acked += f.type === 'ack' ? 1 : 0;
          this.onAck?.();
        }
      });
    });
  }

  /** Sends reports for `ds-<node>` one after the other (each after the previous ack) until `until`. */
  async reportLoop(ns: string, until: number) {
    while (performance.now() < until && this.ws.readyState === WebSocket.OPEN) {
      const acked = new Promise<void>((r) => {
        this.onAck = r;
      });
      const seq = ++this.reportSeq;
      this.ws.send(
        JSON.stringify({
          type: 'report',
          id: { instance: this.node, seq },
          kind: 'Dataset',
          namespace: ns,
          name: `ds-${this.node}`,
          status: { numberOfSamples: seq },
          reportedAt: new Date().toISOString(),
        }),
      );
      await Promise.race([acked, sleep(10_000)]);
    }
  }

  close() {
    this.stopped = true;
    this.ws.terminate();
  }
}
