/**
 * Link conditions and NAT for netlab hosts, done with the kernel's own tools:
 *
 * - NAT: nftables masquerade on the router's outside link, plus a stateful filter that drops
 *   unsolicited inbound packets (as home and carrier routers do). `endpoint-independent` keeps the
 *   inside source port for every destination (Linux masquerade preserves ports when it can);
 *   `symmetric` randomises the port of every new connection, so each destination sees another.
 * - Delay and loss: `tc netem` when the kernel has it. Kernels built without sch_netem (this CI
 *   machine's) get the same effect from netfilter: loss is an nftables `numgen random` drop of
 *   egress packets, delay an NFQUEUE consumer (nfqdelay/, Go stdlib only, built once and cached)
 *   that accepts each packet arriving over the link `delayMs` after it arrived (see applyShape for
 *   why ingress). The queue rule bypasses when the consumer is gone, so a crashed delayer never
 *   blackholes the link.
 * - Rate: `tc tbf` (present in the same kernels).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, PrerequisiteError } from '../common/errors.ts';
import { cacheRoot } from '../common/gobuild.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export type NatMapping = 'endpoint-independent' | 'symmetric';

export interface NatInit {
  /** Segment of the outside (WAN) link; traffic leaving through it is masqueraded. */
  outSegment: string;
  /** Default `endpoint-independent`. */
  mapping?: NatMapping;
}

export interface ShapeInit {
  /** One-way delay added to packets leaving the host on this link, in ms. */
  delayMs?: number;
  /** Share of those packets dropped, in percent (0-100). */
  lossPct?: number;
  /** Egress rate cap, in Mbit/s. */
  rateMbit?: number;
}

async function inNs(ns: string, cmd: string, args: string[], input?: string): Promise<void> {
  try {
    const child = run('ip', ['netns', 'exec', ns, cmd, ...args]);
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    await child;
  } catch (err) {
    const e = err as { code?: string | number; stderr?: string };
    if (e.code === 'ENOENT') throw new PrerequisiteError('netlab needs iproute2');
    throw new PrerequisiteError(`${cmd} ${args.join(' ')} in ${ns}: ${e.stderr?.trim() ?? String(err)}`, {
      cause: err,
    });
  }
}

/** Which commands exist (nft, iptables, tc live in /usr/sbin). */
function need(cmd: string, pkg: string): void {
  const found = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(join(d, cmd)));
  if (!found) throw new PrerequisiteError(`netlab needs ${cmd} (apt-get install -y ${pkg}; scripts/setup.sh lists it)`);
}

export async function applyNat(ns: string, outDev: string, mapping: NatMapping): Promise<void> {
  need('nft', 'nftables');
  const random = mapping === 'symmetric' ? ' random' : '';
  const rules = `
table ip netlab_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${outDev}" masquerade${random}
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "${outDev}" ct state established,related accept
    iifname "${outDev}" drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${outDev}" ct state established,related accept
    iifname "${outDev}" drop
  }
}
`;
  await inNs(ns, 'nft', ['-f', '-'], rules);
}

let netemAvailable: boolean | undefined;

/** True when the kernel has sch_netem (probed once, in a throwaway namespace). */
export async function hasNetem(): Promise<boolean> {
  if (netemAvailable !== undefined) return netemAvailable;
  const ns = `fmprobe-${process.pid}`;
  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    netemAvailable = true;
  } catch {
    netemAvailable = false;
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => {});
  }
  return netemAvailable;
}

/** Builds nfqdelay once per source version into the fedmesh cache; returns its path. */
export async function nfqdelayBinary(): Promise<string> {
  const src = join(here, 'nfqdelay');
  const hash = createHash('sha256')
    .update(readFileSync(join(src, 'main.go')))
    .update(readFileSync(join(src, 'go.mod')))
    .digest('hex')
    .slice(0, 12);
  const bin = join(cacheRoot(), 'netlab', `nfqdelay-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    await run('go', ['build', '-o', tmp, '.'], {
      cwd: src,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false', GOTOOLCHAIN: 'local' },
    });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new PrerequisiteError('netlab delay without sch_netem needs Go to build nfqdelay');
    throw new PrerequisiteError(`building nfqdelay: ${e.stderr ?? String(err)}`, { cause: err });
  }
  renameSync(tmp, bin);
  return bin;
}

/** Removes any shaping from the device (idempotent). */
export async function clearShape(ns: string, dev: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']).catch(() => {});
  await run('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'ip', `netlab_shape_${dev}`]).catch(() => {});
  await run('ip', ['netns', 'exec', ns, 'iptables', '-t', 'mangle', '-F', `NETLAB_${dev}`]).catch(() => {});
}

/**
 * Applies delay, loss and rate to egress of `dev` in `ns`. Without sch_netem, a delay needs an
 * nfqdelay consumer on `queue` in the same namespace: the caller starts it first (see
 * `emulatedDelay`), so no packet is ever queued without a consumer.
 */
export async function applyShape(ns: string, dev: string, queue: number, init: ShapeInit): Promise<void> {
  const { delayMs = 0, lossPct = 0, rateMbit } = init;
  validateShape(init);
  need('tc', 'iproute2');
  if (await hasNetem()) {
    const args = ['qdisc', 'add', 'dev', dev, 'root', 'netem'];
    if (delayMs) args.push('delay', `${delayMs}ms`);
    if (lossPct) args.push('loss', `${lossPct}%`);
    if (rateMbit) args.push('rate', `${rateMbit}mbit`);
    await inNs(ns, 'tc', args);
    return;
  }
  if (rateMbit) {
    await inNs(ns, 'tc', [
      'qdisc',
      'add',
      'dev',
      dev,
      'root',
      'tbf',
      'rate',
      `${rateMbit}mbit`,
      'burst',
      '64kb',
      'latency',
      '200ms',
    ]);
  }
  if (lossPct) {
    need('nft', 'nftables');
    const rules = `
table ip netlab_shape_${dev} {
  chain egress {
    type filter hook postrouting priority filter; policy accept;
    oifname "${dev}" ${lossPct >= 100 ? '' : `numgen random mod 10000 < ${Math.round(lossPct * 100)} `}drop
  }
}
`;
    await inNs(ns, 'nft', ['-f', '-'], rules);
  }
  if (!delayMs) return;
  need('iptables', 'iptables');
  const chain = `NETLAB_${dev}`;
  await run('ip', ['netns', 'exec', ns, 'iptables', '-t', 'mangle', '-N', chain]).catch(() => {});
  await inNs(ns, 'iptables', ['-t', 'mangle', '-F', chain]);
  await inNs(ns, 'iptables', [
    '-t',
    'mangle',
    '-A',
    chain,
    '-j',
    'NFQUEUE',
    '--queue-num',
    String(queue),
    '--queue-bypass',
  ]);
  // Packets are held as they arrive over the link, not as they leave: a packet held on egress
  // still belongs to its sending socket, and TCP small queues then throttle the sender to a couple
  // of packets per delay (0.3 MiB/s at 40 ms). Either way every round trip over the link gains
  // `delayMs`, which is what the tests measure.
  const hooked = await run('ip', [
    'netns',
    'exec',
    ns,
    'iptables',
    '-t',
    'mangle',
    '-C',
    'PREROUTING',
    '-i',
    dev,
    '-j',
    chain,
  ]).then(
    () => true,
    () => false,
  );
  if (!hooked) await inNs(ns, 'iptables', ['-t', 'mangle', '-A', 'PREROUTING', '-i', dev, '-j', chain]);
}

export function validateShape(init: ShapeInit): void {
  const { delayMs = 0, lossPct = 0, rateMbit } = init;
  if (!(delayMs >= 0 && delayMs <= 10_000)) throw new ConfigError(`delayMs ${delayMs}: 0-10000`);
  if (!(lossPct >= 0 && lossPct <= 100)) throw new ConfigError(`lossPct ${lossPct}: 0-100`);
  if (rateMbit !== undefined && !(rateMbit > 0)) throw new ConfigError(`rateMbit ${rateMbit}: must be positive`);
}

/** The delayer command for `queue`, when delay must be emulated (undefined when netem does it). */
export async function emulatedDelay(
  queue: number,
  delayMs: number,
): Promise<{ cmd: string; args: string[] } | undefined> {
  if (!delayMs || (await hasNetem())) return undefined;
  return { cmd: await nfqdelayBinary(), args: ['-queue', String(queue), '-delay', `${delayMs}ms`] };
}
