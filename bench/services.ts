/**
 * The node proxy's data path on a netlab network with the real API server (needs root): a 4 MiB
 * echo transfer from a1 to a server on a2 (same LAN) straight to its address (the baseline), then
 * to the Service's ClusterIP through the proxy (a tunnel over the direct mesh connection), then to
 * a server on b1 (another LAN, behind NAT: a relayed or hole-punched tunnel), every host link
 * shaped to 1 Gbit/s as in kubeedge/edgemesh#551. Median of ROUNDS each.
 *
 *   npm run bench -- services [ROUNDS]     (default 5)
 *
 * Figures (each ÷ plain TCP a1 → a2 in the same run): mb4_ratio — the endpoint's address
 * routable on the LAN (`directCidrs`), so the proxy dials it directly (EdgeMesh ≈ 8, target ≤ 4);
 * mb4_ratio_tunnel — not routable, a tunnel over the direct mesh connection; mb4_ratio_remote —
 * the endpoint in the other LAN through the mesh; the milliseconds of each.
 * On the direct path (directCidrs), paired with straight to a2 in the same run:
 * http_p99_added_ms (and p50) — HTTP keep-alive at 200 requests/s from 8 concurrent clients
 * (target ≤ 2); conn_rate_ratio — new connections/s through the proxy ÷ straight (16 at a time).
 * dns_qps_ratio — bench/dns.ts's measurement, run after the lab is gone (target ≥ 0.8).
 */

import { ECHO_PORT, until } from '../test/mesh/harness.ts';
import { startProxyLab } from '../test/mesh/proxy-lab.ts';
import { run as dnsBench } from './dns.ts';
import { connRate, HTTP_SERVER, httpLatency } from './services-load.ts';
import { quantile, round } from './stats.ts';

const BYTES = 4 << 20;
/** The Service port of the lab's `http-ka` (→ 7100 on the endpoint). */
const HTTP_SVC_PORT = 8080;
const HTTP_PORT = 7100;
const HTTP_LOAD = { rate: 200, conc: 8, seconds: 5 };
const CONN_LOAD = { conc: 16, seconds: 3 };

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rounds = Number(args[0] ?? 5);
  const cleanups: Array<() => unknown> = [];
  try {
    const p = await startProxyLab({ after: (fn: () => unknown) => cleanups.push(fn) } as never, {
      nodes: ['r1', 'a1', 'a2', 'b1'],
    });
    const { m, ip } = p;
    for (const [n, seg] of [
      ['r1', 'pub'],
      ['a1', 'lana'],
      ['a2', 'lana'],
      ['b1', 'lanb'],
    ] as const)
      await m.host(n).shape(seg, { rateMbit: 1000 });
    await m.echo('a2', { host: m.addr('a2'), port: ECHO_PORT });
    await m.echo('b1', { host: m.addr('b1'), port: ECHO_PORT });
    m.host('a2').spawn({
      name: 'http-a2',
      cmd: process.execPath,
      args: ['-e', HTTP_SERVER, m.addr('a2'), String(HTTP_PORT)],
    });
    await p.setEndpoints([['a2']]);
    await p.agent('a2');
    await p.agent('b1');
    let a1 = await p.agent('a1');
    const once = async (target: string, port: number) => {
      const r = await m.transfer('a1', port, BYTES, 0, target).done;
      if (!r.identical || r.ms === undefined)
        throw new Error(`transfer to ${target}:${port} failed: ${JSON.stringify(r)}`);
      return r.ms;
    };
    const warm = (what: string) =>
      until(
        what,
        async () =>
          once(ip, 80)
            .then(() => true)
            .catch(() => undefined),
        60_000,
      );
    await warm('the proxy to a2');
    const plain: number[] = [];
    const proxied: number[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push(await once(m.addr('a2'), ECHO_PORT));
      proxied.push(await once(ip, 80));
    }
    // The same endpoint with its address routable on the LAN (directCidrs): dialled directly, so
    // this is the proxy's own cost (listener, splice) without a tunnel.
    await a1.stop('SIGTERM', 5000);
    a1 = await p.agent('a1', [`${m.addr('a2').split('.').slice(0, 3).join('.')}.0/24`]);
    await warm('the restarted proxy');
    const lan: number[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push(await once(m.addr('a2'), ECHO_PORT));
      lan.push(await once(ip, 80));
    }
    // Requests and connections on the same direct path, straight and proxied back to back.
    const h1 = m.host('a1');
    const http = { plain50: [] as number[], plain99: [] as number[], proxy50: [] as number[], proxy99: [] as number[] };
    const conn = { plain: [] as number[], proxy: [] as number[] };
    await httpLatency(h1, ip, HTTP_SVC_PORT, { ...HTTP_LOAD, seconds: 1 });
    for (let i = 0; i < Math.min(rounds, 3); i++) {
      const straight = await httpLatency(h1, m.addr('a2'), HTTP_PORT, HTTP_LOAD);
      const proxy = await httpLatency(h1, ip, HTTP_SVC_PORT, HTTP_LOAD);
      http.plain50.push(straight.p50);
      http.plain99.push(straight.p99);
      http.proxy50.push(proxy.p50);
      http.proxy99.push(proxy.p99);
      conn.plain.push(await connRate(h1, m.addr('a2'), ECHO_PORT, CONN_LOAD));
      conn.proxy.push(await connRate(h1, ip, 80, CONN_LOAD));
    }
    await p.setEndpoints([['b1']]);
    await until('the proxy to b1', async () => ((await once(ip, 80).catch(() => 0)) > 0 ? true : undefined), 60_000);
    // Only b1 is an endpoint now: every transfer goes across LANs.
    const remote: number[] = [];
    for (let i = 0; i < rounds; i++) remote.push(await once(ip, 80));
    const med = (xs: number[]) => quantile(xs, 0.5);
    process.stderr.write(`plain ${plain}\ntunnel ${proxied}\nlan ${lan}\nremote ${remote}\n`);
    process.stderr.write(`http ${JSON.stringify(http)}\nconn ${JSON.stringify(conn)}\n`);
    for (const fn of cleanups.splice(0).reverse()) await fn();
    const dns = await dnsBench([]);
    const rint = (x: number) => Math.round(x);
    return {
      rounds,
      plain_ms: round(med(plain), 1),
      proxy_lan_ms: round(med(lan), 1),
      proxy_tunnel_ms: round(med(proxied), 1),
      proxy_remote_ms: round(med(remote), 1),
      mb4_ratio: round(med(lan) / med(plain), 2),
      mb4_ratio_tunnel: round(med(proxied) / med(plain), 2),
      mb4_ratio_remote: round(med(remote) / med(plain), 2),
      http_plain_p50_ms: round(med(http.plain50), 2),
      http_plain_p99_ms: round(med(http.plain99), 2),
      http_proxy_p50_ms: round(med(http.proxy50), 2),
      http_proxy_p99_ms: round(med(http.proxy99), 2),
      http_p50_added_ms: round(med(http.proxy50.map((x, i) => x - (http.plain50[i] as number))), 2),
      http_p99_added_ms: round(med(http.proxy99.map((x, i) => x - (http.plain99[i] as number))), 2),
      conn_plain_per_s: rint(med(conn.plain)),
      conn_proxy_per_s: rint(med(conn.proxy)),
      conn_rate_ratio: round(med(conn.proxy.map((x, i) => x / (conn.plain[i] as number))), 2),
      dns_cluster_qps_ratio: dns.cluster_qps_ratio,
      dns_cached_qps_ratio: dns.cached_qps_ratio,
      dns_qps_ratio: dns.dns_qps_ratio,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
