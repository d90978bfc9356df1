/**
 * Test and bench helpers for lc/paths (not exported by index.ts): a TCP proxy whose path can be cut
 * by dropping bytes silently — no RST, no FIN, as a link that loses its packets — and healed.
 */
import { type AddressInfo, createServer, Socket } from 'node:net';

export interface Blackhole {
  /** ws:// URL of the proxy (path `/`). */
  url: string;
  /** Drops everything from now on, both ways, keeping every socket open; new connections hang. */
  cut(): void;
  /** Forwards again (new connections; old ones stay dead, as after a real outage with drops). */
  heal(): void;
  readonly isCut: boolean;
  /** Bytes forwarded so far, both ways. */
  bytes(): number;
  close(): Promise<void>;
}

export async function blackhole(target: { host: string; port: number }): Promise<Blackhole> {
  let cut = false;
  // Connections from before the last cut stay dead after a heal: their packets were lost for good.
  let epoch = 0;
  let forwarded = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (cut) return; // accepted, then nothing: as a SYN that got lost, seen from ws's handshake timer
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    const born = epoch;
    const alive = () => !cut && born === epoch;
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (d: Buffer) => {
        if (!alive()) return;
        forwarded += d.length;
        to.write(d);
      });
    upstream.connect(target.port, target.host, () => {
      pipe(client, upstream);
      pipe(upstream, client);
    });
    // A close on one side travels only while the path is up.
    client.on('end', () => alive() && upstream.end());
    upstream.on('end', () => alive() && client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    cut() {
      cut = true;
      epoch++;
    },
    heal() {
      cut = false;
    },
    bytes: () => forwarded,
    get isCut() {
      return cut;
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
