/**
 * A storm of hostile upgrades, run as its own process so it does not share the event loop of the
 * simulated LCs it disturbs: `node bench/hub/storm.ts PORT SECONDS CONCURRENCY SOURCE`. Each loop
 * opens a TCP connection from SOURCE, sends a fedmesh upgrade without credentials, counts a refusal
 * when the hub's close frame (4401) arrives, hangs up and starts again. Prints `{"refused":N,"failed":N,"seconds":S}`.
 */
import { connect } from 'node:net';

const [port, seconds, concurrency, source] = process.argv.slice(2);
const request = Buffer.from(
  [
    'GET / HTTP/1.1',
    'Host: gm',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol: fedmesh.v1',
    '',
    '',
  ].join('\r\n'),
);
const until = performance.now() + Number(seconds) * 1000;
let refused = 0;
let failed = 0;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect({ port: Number(port), host: '127.0.0.1', localAddress: source ?? '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let counted = false;
    sock.on('error', () => {});
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      // The close frame (opcode 8) right after the 101 response.
      if (!counted && end >= 0 && buf.length > end + 4 && (buf[end + 4] as number) === 0x88) {
        counted = true;
        refused++;
        sock.destroy();
      }
    });
    sock.once('close', () => {
      if (!counted) failed++;
      resolve();
    });
  });
}

const t0 = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (performance.now() < until) await once();
  }),
);
process.stdout.write(`${JSON.stringify({ refused, failed, seconds: (performance.now() - t0) / 1000 })}\n`);
