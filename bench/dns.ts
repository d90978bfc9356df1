/**
 * Queries/s of the node-local resolver (mesh/dns) against minimal dns-packet servers in the same run:
 *   - cluster names (`<svc>.<ns>.svc.cluster.local`, 1 000 Services in the catalog) vs a static
 *     answerer (decode the query, encode a fixed A answer: the least any dns-packet server does);
 *   - forwarded names already in the cache vs a bare forwarder (decode, relay to the upstream with a
 *     new ID, relay the answer back; no cache).
 * Each server runs in its own process, the upstream in another, the load (closed loop, CONC
 * sockets each with one query outstanding) in this one.
 *   npm run bench -- dns [SECONDS] [CONC] [ROUNDS]
 * Ratios are medians over paired rounds; `dns_qps_ratio` is the smaller of the two (target ≥ 0.8).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type DecodedPacket, decode, encode } from 'dns-packet';
import { createLogger } from '../common/log.ts';
import { createDnsResolver } from '../mesh/dns/index.ts';
import { entry, queryBytes, stubCatalog } from '../mesh/dns/testing.ts';
import { quantile, round } from './stats.ts';

type Kind = 'ours' | 'static' | 'forward' | 'upstream';

const answerFor = (q: DecodedPacket) =>
  encode({
    type: 'response',
    id: q.id,
    flags: (1 << 8) | (1 << 7),
    questions: q.questions,
    answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 300, data: '192.0.2.1' }],
  });

/** A server process: prints `{"port":N}` once listening on 127.0.0.1. */
async function serve(kind: Kind, upstreamPort: number): Promise<void> {
  const ready = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`);
  if (kind === 'ours') {
    const catalog = stubCatalog(
      Array.from({ length: 1000 }, (_, i) =>
        entry(`ns${i % 10}`, `svc${i}`, {
          clusterIPs: [`10.96.${i >> 8}.${i & 255}`],
          ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
        }),
      ),
    );
    const log = createLogger({
      component: 'bench',
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    const r = createDnsResolver(
      {
        listen: [{ host: '127.0.0.1', port: 0 }],
        upstreams: [{ host: '127.0.0.1', port: upstreamPort }],
        rateLimit: false,
      },
      { catalog, log },
    );
    void r.start(new AbortController().signal);
    const [l] = await r.ready;
    ready(l?.port ?? 0);
    return;
  }
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  if (kind === 'static' || kind === 'upstream') {
    sock.on('message', (m, rinfo) => {
      try {
        sock.send(answerFor(decode(m)), rinfo.port, rinfo.address);
      } catch {
        // Not a query: nothing to answer.
      }
    });
  } else {
    const up = createSocket('udp4');
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    const pending = new Map<number, { rinfo: RemoteInfo; id: number }>();
    let next = 0;
    sock.on('message', (m, rinfo) => {
      try {
        const q = decode(m);
        next = (next + 1) & 0xffff;
        pending.set(next, { rinfo, id: q.id ?? 0 });
        up.send(encode({ ...q, id: next }), upstreamPort, '127.0.0.1');
      } catch {
        // Not a query.
      }
    });
    up.on('message', (m) => {
      try {
        const a = decode(m);
        const p = pending.get(a.id ?? -1);
        if (!p) return;
        pending.delete(a.id ?? -1);
        sock.send(encode({ ...a, id: p.id }), p.rinfo.port, p.rinfo.address);
      } catch {
        // A broken answer: the client retries.
      }
    });
  }
  ready((sock.address() as { port: number }).port);
}

async function startServer(kind: Kind, upstreamPort = 0): Promise<{ port: number; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind, String(upstreamPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
  return { port: (JSON.parse(line) as { port: number }).port, proc };
}

/** Closed-loop load: `conc` sockets, each re-sending on answer (or after 200 ms lost), for `seconds`. */
async function load(port: number, names: string[], seconds: number, conc: number): Promise<number> {
  const msgs = names.map((n) => queryBytes(n, 'A'));
  let answered = 0;
  let counting = false;
  let stop = false;
  const sockets = await Promise.all(
    Array.from({ length: conc }, async (_, i) => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      let k = i;
      let timer: NodeJS.Timeout | undefined;
      const send = () => {
        if (stop) return;
        s.send(msgs[k++ % msgs.length] as Buffer, port, '127.0.0.1');
        clearTimeout(timer);
        timer = setTimeout(send, 200);
      };
      s.on('message', () => {
        if (counting) answered++;
        send();
      });
      send();
      return { s, stop: () => clearTimeout(timer) };
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  for (const x of sockets) {
    x.stop();
    x.s.close();
  }
  return answered / elapsed;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(args[0] ?? 2);
  const conc = Number(args[1] ?? 32);
  const rounds = Number(args[2] ?? 5);
  const procs: ChildProcess[] = [];
  try {
    const upstream = await startServer('upstream');
    procs.push(upstream.proc);
    const ours = await startServer('ours', upstream.port);
    const stat = await startServer('static');
    const fwd = await startServer('forward', upstream.port);
    procs.push(ours.proc, stat.proc, fwd.proc);
    const cluster = Array.from({ length: 100 }, (_, i) => `svc${i * 7}.ns${(i * 7) % 10}.svc.cluster.local`);
    const external = Array.from({ length: 100 }, (_, i) => `host${i}.example.com`);
    // Paired rounds, baseline and ours back to back (order swapped each round), the median of the
    // per-round ratios: a load shift on the shared machine then hits both sides of a pair alike.
    const r = { static: [] as number[], cluster: [] as number[], forward: [] as number[], cached: [] as number[] };
    const pair = async (a: () => Promise<number>, b: () => Promise<number>, swap: boolean) =>
      swap ? (([y, x]) => [x, y])([await b(), await a()]) : [await a(), await b()];
    for (let i = 0; i < rounds; i++) {
      const [st, cl] = await pair(
        () => load(stat.port, cluster, seconds, conc),
        () => load(ours.port, cluster, seconds, conc),
        i % 2 === 1,
      );
      const [fw, ca] = await pair(
        () => load(fwd.port, external, seconds, conc),
        () => load(ours.port, external, seconds, conc),
        i % 2 === 1,
      );
      r.static.push(st as number);
      r.cluster.push(cl as number);
      r.forward.push(fw as number);
      r.cached.push(ca as number);
    }
    const med = (xs: number[]) => quantile(xs, 0.5);
    const clusterRatio = med(r.cluster.map((x, i) => x / (r.static[i] as number)));
    const cachedRatio = med(r.cached.map((x, i) => x / (r.forward[i] as number)));
    return {
      seconds,
      concurrency: conc,
      rounds,
      cluster_qps: Math.round(med(r.cluster)),
      static_answerer_qps: Math.round(med(r.static)),
      cluster_qps_ratio: round(clusterRatio),
      cached_qps: Math.round(med(r.cached)),
      bare_forwarder_qps: Math.round(med(r.forward)),
      cached_qps_ratio: round(cachedRatio),
      dns_qps_ratio: round(Math.min(clusterRatio, cachedRatio)),
    };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

if (import.meta.main && process.argv[2] === '--serve') {
  await serve(process.argv[3] as Kind, Number(process.argv[4] ?? 0));
}
