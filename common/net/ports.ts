import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The kernel's ephemeral range, from which it picks the source ports of outgoing connections. A
 * port handed out by bind(0) comes from that same range, so a concurrent test's outgoing connection
 * can take it between our probe and the server's bind; ports below it are never taken that way.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number];
  } catch {
    // Not Linux, or no procfs: fall back to bind(0).
  }
  return [0, 0];
}

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

/**
 * A free TCP port on `host`: a random one below the kernel's ephemeral range (see ephemeralRange),
 * probed by binding it; bind(0) only when that range is too small.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [lo] = ephemeralRange();
  const base = 10_000;
  if (lo - base >= 1_000) {
    for (let i = 0; i < 50; i++) {
      const port = await tryListen(base + Math.floor(Math.random() * (lo - base)), host);
      if (port !== undefined) return port;
    }
  }
  const port = await tryListen(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}
