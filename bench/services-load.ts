/**
 * Load clients of the services benchmark, run inside a lab host (`node -e`) so the traffic really
 * crosses the namespaces: HTTP keep-alive latency at a fixed request rate, and new TCP connections/s.
 * Not a benchmark of its own (bench/run.ts lists it, it has no `run`): helpers for bench/services.ts.
 */
import type { Host } from '../netlab/index.ts';

/** The HTTP server of the benchmark: `ok` on every request. Args: host port. */
export const HTTP_SERVER = `
const [host, port] = process.argv.slice(1);
require('node:http').createServer((req, res) => res.end('ok')).listen(+port, host);
`;

/**
 * Args: ip port rate conc seconds. `conc` keep-alive clients (one socket each) together send `rate`
 * requests/s on a fixed schedule (open loop); latency counts from the scheduled send, so a stall
 * is not hidden by the requests it delayed. The first second is warm-up. Prints {p50, p99, n, errors}.
 */
const HTTP_CLIENT = `
const [ip, port, rate, conc, secs] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const http = require('node:http');
const lat = []; let errors = 0; let pending = 0;
const start = performance.now() + 200, warm = start + 1000, end = warm + secs * 1000;
const every = (1000 * conc) / rate;
for (let c = 0; c < conc; c++) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let k = 0;
  const next = () => {
    const at = start + (c / conc) * every + k++ * every;
    if (at >= end) return;
    setTimeout(() => {
      pending++;
      http.get({ host: ip, port, path: '/', agent }, (r) => {
        r.resume();
        r.on('end', () => { pending--; if (at >= warm) lat.push(performance.now() - at); });
      }).on('error', () => { pending--; errors++; });
      next();
    }, Math.max(0, at - performance.now()));
  };
  next();
}
const done = setInterval(() => {
  if (performance.now() < end || (pending > 0 && performance.now() < end + 5000)) return;
  clearInterval(done);
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? null;
  console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), n: lat.length, errors }));
  process.exit(0);
}, 50);
`;

/**
 * Args: ip port conc seconds. `conc` loops, each: connect, send a byte, read it back, close; counts
 * completed connections after a 0.5 s warm-up. Prints {rate, errors}.
 */
const CONN_CLIENT = `
const [ip, port, conc, secs] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const net = require('node:net');
let n = 0, errors = 0, counting = false, stop = false;
const loop = () => {
  if (stop) return;
  const s = net.connect({ host: ip, port }, () => s.write('x'));
  s.once('data', () => { if (counting) n++; s.destroy(); loop(); });
  s.on('error', () => { errors++; s.destroy(); setTimeout(loop, 10); });
};
for (let i = 0; i < conc; i++) loop();
setTimeout(() => {
  counting = true;
  const t0 = performance.now();
  setTimeout(() => {
    stop = true;
    console.log(JSON.stringify({ rate: n / ((performance.now() - t0) / 1000), errors }));
    process.exit(0);
  }, secs * 1000);
}, 500);
`;

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').at(-1) || '{}') as T;

export interface HttpLatency {
  p50: number;
  p99: number;
  n: number;
  errors: number;
}

/** HTTP keep-alive latency from `h` to ip:port at `rate` requests/s from `conc` clients. */
export async function httpLatency(
  h: Host,
  ip: string,
  port: number,
  opts: { rate: number; conc: number; seconds: number },
): Promise<HttpLatency> {
  const r = await h.exec(
    process.execPath,
    ['-e', HTTP_CLIENT, ip, String(port), String(opts.rate), String(opts.conc), String(opts.seconds)],
    { timeoutMs: (opts.seconds + 15) * 1000 },
  );
  const out = lastJson<HttpLatency>(r.stdout);
  if (!out.n || out.errors) throw new Error(`HTTP load to ${ip}:${port} failed: ${r.stdout} ${r.stderr}`);
  return out;
}

/** New TCP connections/s from `h` to an echo server at ip:port, `conc` at a time. */
export async function connRate(h: Host, ip: string, port: number, opts: { conc: number; seconds: number }) {
  const r = await h.exec(
    process.execPath,
    ['-e', CONN_CLIENT, ip, String(port), String(opts.conc), String(opts.seconds)],
    { timeoutMs: (opts.seconds + 15) * 1000 },
  );
  const out = lastJson<{ rate: number; errors: number }>(r.stdout);
  if (!out.rate) throw new Error(`connections to ${ip}:${port} failed: ${r.stdout} ${r.stderr}`);
  return out.rate;
}
