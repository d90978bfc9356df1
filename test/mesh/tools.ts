/**
 * Small programs the mesh tests run inside lab hosts (as `node -e`), so traffic really crosses
 * the namespaces: an echo server and a transfer client that checks every byte.
 */

/** TCP echo on HOST:PORT (argv[2] default 127.0.0.1, argv[1]); half-closes after echoing everything. */
export const ECHO_SERVER = `
const port = Number(process.argv[1]); const host = process.argv[2] || '127.0.0.1';
require('node:net').createServer({ allowHalfOpen: true, noDelay: true }, (s) => { s.on('error', () => {}); s.pipe(s); })
  .listen(port, host, () => console.log('listening'));`;

/**
 * Sends BYTES (argv[3]) of seeded pseudo-random data to HOST:PORT (argv[1], argv[2]) at RATE bytes/s
 * (argv[4], 0 = as fast as possible), reads the echo, and prints one JSON line:
 * {sent, received, identical, ms, firstByteMs}. Progress lines {progress: n} every 1 MiB received.
 */
export const TRANSFER_CLIENT = `
const [host, port, bytes, rate] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const { createHash } = require('node:crypto');
let x = 0x2545f491;
const next = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b.writeInt32LE(x | 0, i); } return b; };
const hs = createHash('sha256'); const hr = createHash('sha256');
const t0 = performance.now(); let received = 0; let firstByteMs; let nextReport = 1 << 20;
const s = require('node:net').connect({ host, port, allowHalfOpen: true, noDelay: true });
s.on('data', (d) => { if (firstByteMs === undefined) firstByteMs = performance.now() - t0; received += d.length; hr.update(d);
  if (received >= nextReport) { console.log(JSON.stringify({ progress: received })); nextReport += 1 << 20; } });
s.on('end', () => { const a = hs.digest('hex'); const b = hr.digest('hex');
  console.log(JSON.stringify({ sent: bytes, received, identical: a === b && received === bytes, ms: performance.now() - t0, firstByteMs })); process.exit(0); });
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message, received })); process.exit(1); });
s.on('connect', async () => {
  const chunk = 64 * 1024; let sent = 0;
  while (sent < bytes) {
    const n = Math.min(chunk, bytes - sent); const b = next(n); hs.update(b); sent += n;
    if (!s.write(b)) await new Promise((r) => s.once('drain', r));
    if (rate > 0) { const ahead = sent / rate * 1000 - (performance.now() - t0); if (ahead > 0) await new Promise((r) => setTimeout(r, ahead)); }
  }
  s.end();
});`;

/**
 * Ping-pong over HOST:PORT (argv[1], argv[2]): COUNT (argv[3]) one-byte round trips, one at a
 * time; prints {p50, p99, mean} in ms.
 */
export const PINGPONG_CLIENT = `
const [host, port, count] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const s = require('node:net').connect({ host, port, noDelay: true });
const times = []; let t0;
const one = Buffer.from([7]);
s.on('connect', () => { t0 = performance.now(); s.write(one); });
s.on('data', (d) => {
  for (let i = 0; i < d.length; i++) {
    times.push(performance.now() - t0);
    if (times.length === count) {
      const x = times.slice(5).sort((a, b) => a - b); const q = (p) => x[Math.min(x.length - 1, Math.ceil(p * x.length) - 1)];
      console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), mean: x.reduce((a, b) => a + b, 0) / x.length }));
      process.exit(0);
    }
    t0 = performance.now(); s.write(one);
  }
});
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(1); });`;

/**
 * A steady trickle through HOST:PORT (argv[1], argv[2]): 16 bytes every 10 ms, echoed back. Every
 * pause in the echoes longer than GAP ms (argv[3], default 60) is printed as {gapStart, gapEnd}
 * (epoch ms), so a caller that knows when it broke the path can tell how long the application saw
 * nothing; every 100 ms {tick} carries the time of the last echo.
 */
export const TRICKLE_CLIENT = `
const [host, port, gap] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const GAP = gap || 60;
const s = require('node:net').connect({ host, port, noDelay: true });
let last = Date.now(); let pending = 0;
s.on('connect', () => { console.log(JSON.stringify({ connected: Date.now() }));
  setInterval(() => { s.write(Buffer.alloc(16, 1)); }, 10);
  setInterval(() => console.log(JSON.stringify({ tick: last })), 100); });
s.on('data', (d) => { pending += d.length; while (pending >= 16) { pending -= 16; const now = Date.now();
  if (now - last > GAP) console.log(JSON.stringify({ gapStart: last, gapEnd: now })); last = now; } });
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(1); });
s.on('end', () => { console.log(JSON.stringify({ error: 'ended' })); process.exit(1); });`;
