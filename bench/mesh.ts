/**
 * Mesh tunnels on a netlab network (real `fedmesh mesh` processes, needs root):
 *   - throughput of a tunnel, direct (a1→a2) and relayed (a1→b1, direct mesh traffic between
 *     them dropped by nftables so the relays carry it), each against plain TCP between the same
 *     two namespaces in the same run; unshaped (CPU-bound) and with every link capped at 100 Mbit/s;
 *   - added latency (one-byte ping-pong, p50) of both paths over plain TCP;
 *   - relay failover: a steady trickle through a relayed tunnel; the relay carrying it is killed
 *     (SIGKILL) KILLS times, each time restarted afterwards; failover time is from the kill to the
 *     first echo the application receives again (the steady-state gap is the baseline).
 *
 *   npm run bench -- mesh [KILLS]        (default 10)
 */
import { cpSync } from 'node:fs';
import { sleep } from '../common/async.ts';
import { createMeshLab, ECHO_PORT, type MeshLab, type MeshProc, type NodeName, until } from '../test/mesh/harness.ts';
import { PINGPONG_CLIENT, TRICKLE_CLIENT } from '../test/mesh/tools.ts';
import { quantile, round } from './stats.ts';

const PLAIN_PORT = 7001;
const DIRECT_FWD = 17001;
const RELAYED_FWD = 17002;
const TRICKLE_FWD = 17003;
const BYTES = 32 << 20;

/** Drops mesh traffic between two hosts in both directions, so only relays can connect them. */
async function blockMesh(m: MeshLab, a: NodeName, b: NodeName): Promise<void> {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const h = m.host(from);
    await h.exec('nft', ['add', 'table', 'ip', 'benchblock']);
    await h.exec('nft', [
      'add',
      'chain',
      'ip',
      'benchblock',
      'out',
      '{',
      'type',
      'filter',
      'hook',
      'output',
      'priority',
      '0',
      ';',
      '}',
    ]);
    const r = await h.exec('nft', [
      'add',
      'rule',
      'ip',
      'benchblock',
      'out',
      'ip',
      'daddr',
      m.addr(to),
      'tcp',
      'dport',
      '{',
      '20006,',
      '20007',
      '}',
      'drop',
    ]);
    if (r.code !== 0) throw new Error(`nft in ${from}: ${r.stderr}`);
  }
}

async function throughput(m: MeshLab, port: number, bytes: number, host?: string): Promise<number> {
  const res = await m.transfer('a1', port, bytes, 0, host).done;
  if (!res.identical || !res.ms)
    throw new Error(`transfer to ${host ?? 'tunnel'}:${port} failed: ${JSON.stringify(res)}`);
  return bytes / (1 << 20) / (res.ms / 1000); // MiB/s each way
}

async function pingpong(m: MeshLab, host: string, port: number): Promise<number> {
  const run = m.tool('a1', PINGPONG_CLIENT, [host, String(port), '400']);
  await run.proc.exited;
  const r = run.lines().at(-1) as { p50?: number; error?: string } | undefined;
  if (r?.p50 === undefined) throw new Error(`ping-pong to ${host}:${port} failed: ${JSON.stringify(r)}`);
  return r.p50;
}

const median = (xs: number[]) => quantile(xs, 0.5);

async function reservedOnBoth(p: MeshProc): Promise<void> {
  await until(
    `${p.name} to hold two reservations`,
    async () => ((await p.status()).relays.filter((r) => r.reserved).length === 2 ? true : undefined),
    30_000,
  );
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const kills = Math.max(10, Number(args[0] ?? 10));
  const m = await createMeshLab({ nodes: ['r1', 'r2', 'a1', 'a2', 'b1'], flat: true });
  try {
    await blockMesh(m, 'a1', 'b1');
    const relays: NodeName[] = ['r1', 'r2'];
    const cfg = () => m.config(relays, { mdns: false });
    const procs: Partial<Record<NodeName, MeshProc>> = {};
    for (const n of ['r1', 'r2', 'a2', 'b1'] as const) procs[n] = await m.start(n, { config: cfg() });
    const a1 = await m.start('a1', {
      config: cfg(),
      forwards: [
        `${DIRECT_FWD}=a2:127.0.0.1:${ECHO_PORT}`,
        `${RELAYED_FWD}=b1:127.0.0.1:${ECHO_PORT}`,
        `${TRICKLE_FWD}=b1:127.0.0.1:${ECHO_PORT}`,
      ],
    });
    for (const n of ['a2', 'b1'] as const) {
      await m.echo(n);
      await m.echo(n, { host: '0.0.0.0', port: PLAIN_PORT });
    }
    await reservedOnBoth(a1);
    await reservedOnBoth(procs.b1 as MeshProc);

    // Warm-up: records resolved, connections made, JIT warm.
    await throughput(m, DIRECT_FWD, 1 << 20);
    await throughput(m, RELAYED_FWD, 1 << 20);
    const routes = (await a1.status()).peers;
    if (routes.find((p) => p.node === 'b1')?.route !== 'relayed') throw new Error('a1→b1 is not relayed');
    if (routes.find((p) => p.node === 'a2')?.route !== 'direct') throw new Error('a1→a2 is not direct');

    const measure = async (bytes: number, rounds: number) => {
      const s = { plainA2: [] as number[], direct: [] as number[], plainB1: [] as number[], relayed: [] as number[] };
      for (let i = 0; i < rounds; i++) {
        s.plainA2.push(await throughput(m, PLAIN_PORT, bytes, m.addr('a2')));
        s.direct.push(await throughput(m, DIRECT_FWD, bytes));
        s.plainB1.push(await throughput(m, PLAIN_PORT, bytes, m.addr('b1')));
        s.relayed.push(await throughput(m, RELAYED_FWD, bytes));
      }
      return {
        plain: median([...s.plainA2, ...s.plainB1]),
        direct: median(s.direct),
        relayed: median(s.relayed),
        directRatio: median(s.direct) / median(s.plainA2),
        relayedRatio: median(s.relayed) / median(s.plainB1),
      };
    };
    const skip = process.env.FEDMESH_BENCH_FAILOVER_ONLY === '1';
    const raw = skip ? { plain: 0, direct: 0, relayed: 0, directRatio: 0, relayedRatio: 0 } : await measure(BYTES, 5);
    process.stderr.write(`throughput MiB/s: ${JSON.stringify(raw)}\n`);
    const lat = skip
      ? { plainA2: 0, direct: 0, plainB1: 0, relayed: 0 }
      : {
          plainA2: await pingpong(m, m.addr('a2'), PLAIN_PORT),
          direct: await pingpong(m, '127.0.0.1', DIRECT_FWD),
          plainB1: await pingpong(m, m.addr('b1'), PLAIN_PORT),
          relayed: await pingpong(m, '127.0.0.1', RELAYED_FWD),
        };

    process.stderr.write(`ping-pong p50 ms: ${JSON.stringify(lat)}\n`);
    // Edge-like links: every host's egress capped at 100 Mbit/s.
    if (!skip) for (const n of ['r1', 'r2', 'a1', 'a2', 'b1'] as const) await m.host(n).shape('pub', { rateMbit: 100 });
    const shaped = skip ? raw : await measure(16 << 20, 3);
    process.stderr.write(`throughput at 100 Mbit/s: ${JSON.stringify(shaped)}\n`);
    for (const n of ['r1', 'r2', 'a1', 'a2', 'b1'] as const) await m.host(n).shape('pub', {});

    // Relay failover under a live tunnel.
    const trickle = m.tool('a1', TRICKLE_CLIENT, ['127.0.0.1', String(TRICKLE_FWD), '60']);
    await until(
      'the trickle to flow',
      () => (trickle.lines().some((l) => 'connected' in l) ? true : undefined),
      10_000,
    );
    await sleep(1_000);
    const failovers: number[] = [];
    const killWindows: Array<[number, number]> = [];
    for (let i = 0; i < kills; i++) {
      const victim = await until(
        'the trickle tunnel to run through a relay',
        async () => {
          const t = (await a1.status()).tunnels.find((x) => x.direction === 'outbound' && x.node === 'b1');
          const r = t?.route?.relay;
          return r === 'r1' || r === 'r2' ? (r as NodeName) : undefined;
        },
        10_000,
      );
      const killedAt = Date.now();
      (procs[victim] as MeshProc).proc.signal('SIGKILL');
      // Echoes flow again once a tick reports an echo after the kill; the pause is the gap (if any,
      // above the client's 60 ms threshold) that spans the kill.
      const pausedMs = await until(
        'the trickle to resume',
        () => {
          const lines = trickle.lines();
          if (lines.some((l) => 'error' in l)) throw new Error(`trickle broke: ${JSON.stringify(lines.at(-1))}`);
          if (!lines.some((l) => typeof l.tick === 'number' && (l.tick as number) > killedAt)) return undefined;
          const gap = lines.find(
            (l) =>
              typeof l.gapEnd === 'number' &&
              (l.gapEnd as number) > killedAt &&
              (l.gapStart as number) <= killedAt + 60,
          );
          return gap ? (gap.gapEnd as number) - killedAt : 60;
        },
        35_000,
      );
      failovers.push(pausedMs / 1000);
      killWindows.push([killedAt, killedAt + pausedMs]);
      process.stderr.write(`kill ${i + 1}/${kills}: ${victim}, application paused ${pausedMs} ms\n`);
      procs[victim] = await m.start(victim, { config: cfg() });
      await reservedOnBoth(a1);
      await reservedOnBoth(procs.b1 as MeshProc);
      await sleep(500);
    }
    const steady = trickle
      .lines()
      .filter((l) => typeof l.gapEnd === 'number')
      .filter((l) => !killWindows.some(([a, b]) => (l.gapEnd as number) >= a && (l.gapEnd as number) <= b + 100))
      .map((l) => ((l.gapEnd as number) - (l.gapStart as number)) / 1000);
    const alive = trickle.proc.running();
    trickle.proc.signal('SIGKILL');

    return {
      plain_mib_s: round(raw.plain, 1),
      direct_mib_s: round(raw.direct, 1),
      relayed_mib_s: round(raw.relayed, 1),
      direct_ratio: round(raw.directRatio),
      relayed_ratio: round(raw.relayedRatio),
      plain_100mbit_mib_s: round(shaped.plain, 2),
      direct_ratio_100mbit: round(shaped.directRatio),
      relayed_ratio_100mbit: round(shaped.relayedRatio),
      plain_rtt_p50_ms: round((lat.plainA2 + lat.plainB1) / 2, 3),
      direct_added_latency_ms: round(lat.direct - lat.plainA2, 3),
      relayed_added_latency_ms: round(lat.relayed - lat.plainB1, 3),
      kills,
      failovers_s: failovers.map((f) => round(f)),
      failover_p50_s: round(quantile(failovers, 0.5)),
      failover_p99_s: round(quantile(failovers, 0.99)),
      failover_max_s: round(Math.max(...failovers)),
      steady_gaps_over_60ms: steady.length,
      steady_gap_max_s: steady.length ? round(Math.max(...steady)) : 0,
      tunnel_survived_all_kills: alive,
    };
  } finally {
    // FEDMESH_BENCH_LOGS=DIR keeps the node logs for a look at what happened.
    if (process.env.FEDMESH_BENCH_LOGS) cpSync(m.dir, process.env.FEDMESH_BENCH_LOGS, { recursive: true });
    await m.destroy();
  }
}
