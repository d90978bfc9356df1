/** The hub benchmark's baseline: a bare `ws` echo server (child process) with the same connection counts. */
import { join } from 'node:path';
import WebSocket from 'ws';
import { sleep } from '../../common/async.ts';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { quantile, round } from '../stats.ts';
import { pool, usage } from './sim.ts';

const log = (m: string) => process.stderr.write(`hub bench: ${m}\n`);

const ECHO = `
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ port: Number(process.argv[1]), host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (d) => {
  const s = d.toString();
  if (s.startsWith('BCAST ')) for (const c of wss.clients) c.send(s.slice(6));
  else ws.send(d);
}));`;

/** Baseline: a bare ws echo server (child process) with the same connection counts. */
export async function baseline(sizes: number[]) {
  const out: Record<string, number> = {};
  const port = await freePort();
  const start = () =>
    spawnManaged({
      name: 'echo',
      cmd: process.execPath,
      args: ['-e', ECHO, String(port)],
      cwd: join(import.meta.dirname, '..', '..'),
    });
  let echo = start();
  await sleep(500);
  const base = usage(echo.pid);
  const clients: WebSocket[] = [];
  const open = async (n: number) => {
    await pool(Array.from({ length: n - clients.length }), 200, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      ws.on('error', () => {});
      clients.push(ws);
      await new Promise((r) => ws.once('open', r));
    });
  };
  for (const n of sizes) {
    const before = usage(echo.pid);
    const fresh = n - clients.length;
    await open(n);
    await sleep(1000);
    const after = usage(echo.pid);
    out[`baseline_rss_mib_${n / 1000}k`] = round(after.rssMiB, 1);
    out[`baseline_rss_kib_per_conn_${n / 1000}k`] = round(((after.rssMiB - base.rssMiB) * 1024) / n, 1);
    out[`baseline_cpu_ms_per_connect_${n / 1000}k`] = round(((after.cpuS - before.cpuS) * 1000) / fresh, 3);
    log(`echo baseline at ${n}: ${round(after.rssMiB, 1)} MiB`);
    if (n === 1000) {
      // Broadcast fan-out: one message to every client, as the hub fans out one change.
      const lat: number[] = [];
      for (let round_ = 0; round_ < 5; round_++) {
        const got: number[] = [];
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          let left = clients.length;
          for (const c of clients) {
            c.once('message', () => {
              got.push(performance.now() - t0);
              if (--left === 0) resolve();
            });
          }
          // About the size of the hub's fan-out frame (a Model with its metadata).
          clients[0]?.send(`BCAST ${round_ + 1} ${'x'.repeat(1024)}`);
        });
        lat.push(...got);
      }
      out.baseline_fanout_p50_ms_1k = round(quantile(lat, 0.5), 2);
      out.baseline_fanout_p99_ms_1k = round(quantile(lat, 0.99), 2);
      // Reconnect after kill -9 (to a fresh server on the same port), the floor for re-home.
      const t0 = performance.now();
      const back: number[] = [];
      echo.signal('SIGKILL');
      await echo.exited;
      echo = start();
      await pool(clients.slice(0, 1000), 200, async (_c, i) => {
        for (;;) {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
          ws.on('error', () => {});
          const ok = await new Promise<boolean>((r) => {
            ws.once('open', () => r(true));
            ws.once('close', () => r(false));
          });
          if (ok) {
            clients[i] = ws;
            back.push(performance.now() - t0);
            return;
          }
          await sleep(20);
        }
      });
      out.baseline_reconnect_p99_s_1k = round(quantile(back, 0.99) / 1000, 3);
      clients.splice(1000);
    }
  }
  for (const c of clients) c.terminate();
  await echo.stop('SIGKILL');
  return out;
}
