import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, PrerequisiteError } from '../common/errors.ts';
import { type ManagedProcess, onExit, type SpawnInit, spawnManaged } from '../common/process/index.ts';
import {
  applyNat,
  applyShape,
  clearShape,
  emulatedDelay,
  type NatInit,
  type ShapeInit,
  validateShape,
} from './shaping.ts';

const run = promisify(execFile);
/** Where live labs are recorded, so a later run can remove what a killed run left behind. */
const STATE_DIR = '/run/fedmesh-netlab';
/** Test traffic stays inside the benchmarking range reserved by RFC 2544. */
const TEST_NET = /^198\.(18|19)\.\d{1,3}\.\d{1,3}(\/\d{1,2})?$/;

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface Segment {
  readonly name: string;
  /** Bridge device inside the lab's switch namespace. */
  readonly bridge: string;
}

export interface Host {
  readonly name: string;
  /** Network namespace name; usable with `ip netns exec`. */
  readonly ns: string;
  /** First address of the host (without prefix length). */
  readonly ip: string;
  /** Runs a command to completion inside the host. Never throws on a non-zero exit. */
  exec(cmd: string, args?: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process inside the host; stopped at lab teardown at the latest. */
  spawn(init: Omit<SpawnInit, 'cmd' | 'args' | 'detached'> & { cmd: string; args?: string[] }): ManagedProcess;
  /** Cuts the host off every segment (carrier lost, as when a cable or uplink fails). */
  cutLink(segment?: string): Promise<void>;
  /** Restores what cutLink took away. */
  restoreLink(segment?: string): Promise<void>;
  /** Device name of the host's link on `segment` (`eth0`, `eth1`, ...). */
  dev(segment: string): string;
  /**
   * Makes the host a NAT router: traffic forwarded out through `outSegment` is masqueraded and
   * unsolicited inbound traffic there is dropped. Needs `forwarding: true`.
   */
  nat(init: NatInit): Promise<void>;
  /**
   * Delay, loss and rate on the host's egress on `segment` (replaces earlier shaping there; an
   * empty init removes it). `tc netem` where the kernel has it, netfilter emulation otherwise.
   */
  shape(segment: string, init: ShapeInit): Promise<void>;
}

/** A NAT router between an inside segment and an outside one (see Host.nat). */
export interface RouterInit {
  inside: { segment: string; address: string };
  outside: { segment: string; address: string };
  /** Default `endpoint-independent`. */
  mapping?: NatInit['mapping'];
  /** The router's own default route (an address on the outside segment). */
  gateway?: string;
}

export interface HostInit {
  /** Segments to attach, each with an address in 198.18.0.0/15 (`198.18.0.11/24`). */
  links: Array<{ segment: string; address: string }>;
  /** Default gateway (an address on one of the host's segments). */
  gateway?: string;
  /** Enable IPv4 forwarding (routers). */
  forwarding?: boolean;
}

export interface Lab {
  /** Short unique id; every namespace of the lab is named `fm<id>-*`. */
  readonly id: string;
  addSegment(name: string): Promise<Segment>;
  addHost(name: string, init: HostInit): Promise<Host>;
  host(name: string): Host;
  /** Adds a host that forwards between two segments and NATs what leaves through the outside one. */
  addRouter(name: string, init: RouterInit): Promise<Host>;
  /**
   * Connects the root namespace (where the caller and its local control plane run) to a
   * segment with `address`, so lab hosts can reach a server the caller started. The link is
   * removed with the lab.
   */
  attachRoot(segment: string, address: string): Promise<{ dev: string; ip: string }>;
  /** Stops every process, deletes every namespace, link and bridge; idempotent. */
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new PrerequisiteError('netlab needs iproute2 (the ip command)');
    throw new PrerequisiteError(`ip ${args.join(' ')}: ${e.stderr?.trim() ?? ''}`, { cause: err });
  }
}

function nsPids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Synchronous teardown of a lab's namespaces: usable from an exit hook. */
function destroySync(id: string): void {
  const prefix = `fm${id}-`;
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(prefix));
  } catch {
    // No ip command: nothing can have been created.
  }
  for (const ns of names) {
    for (const pid of nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Deleted concurrently.
    }
  }
  // Root-side ends of attachRoot links go with their peers, but asynchronously: delete them now.
  try {
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    for (const m of links.matchAll(new RegExp(`^\\d+: (fm${id}-r\\d+)[@:]`, 'gm'))) {
      execFileSync('ip', ['link', 'del', 'dev', m[1] as string], { stdio: 'ignore' });
    }
  } catch {
    // Already gone with the switch namespace.
  }
  for (const f of readdirSync(tmpdir()).filter((f) => f.startsWith(`fm${id}-`)))
    rmSync(join(tmpdir(), f), { force: true });
  rmSync(join(STATE_DIR, id), { force: true });
}

/** Removes labs whose owning process no longer exists (a run killed before its teardown). */
export function reapStaleLabs(): string[] {
  let ids: string[] = [];
  try {
    ids = readdirSync(STATE_DIR);
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const id of ids) {
    const owner = Number(readFileSync(join(STATE_DIR, id), 'utf8'));
    let alive = true;
    try {
      process.kill(owner, 0);
    } catch {
      alive = false;
    }
    if (!alive) {
      destroySync(id);
      reaped.push(id);
    }
  }
  return reaped;
}

/**
 * A multi-host network on one machine: each host is a network namespace, each segment a bridge
 * inside one "switch" namespace of the lab (so nothing is added to the root namespace and
 * parallel labs cannot clash on names). Needs root and iproute2.
 */
export async function createLab(): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new PrerequisiteError('netlab needs root (network namespaces)');
  reapStaleLabs();
  const id = randomBytes(3).toString('hex');
  const sw = `fm${id}-sw`;
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(join(STATE_DIR, id), String(process.pid));
  const unhook = onExit(() => destroySync(id));
  await ip(['netns', 'add', sw]);
  await ip(['-n', sw, 'link', 'set', 'lo', 'up']);

  const segments = new Map<string, Segment>();
  const hosts = new Map<string, Host>();
  const procs = new Set<ManagedProcess>();
  let destroyed = false;
  let rootLinks = 0;

  const lab: Lab = {
    id,
    async addSegment(name) {
      if (!/^[a-z0-9]{1,8}$/.test(name)) throw new ConfigError(`segment name "${name}": 1-8 of [a-z0-9]`);
      if (segments.has(name)) throw new ConfigError(`segment ${name} exists`);
      const bridge = `br-${name}`;
      await ip(['-n', sw, 'link', 'add', bridge, 'type', 'bridge']);
      await ip(['-n', sw, 'link', 'set', bridge, 'up']);
      const seg = { name, bridge };
      segments.set(name, seg);
      return seg;
    },
    async addHost(name, init) {
      if (!/^[a-z0-9]{1,8}$/.test(name)) throw new ConfigError(`host name "${name}": 1-8 of [a-z0-9]`);
      if (hosts.has(name)) throw new ConfigError(`host ${name} exists`);
      if (init.links.length === 0) throw new ConfigError(`host ${name} needs at least one link`);
      for (const l of init.links) {
        if (!TEST_NET.test(l.address)) throw new ConfigError(`${l.address}: hosts use 198.18.0.0/15 only`);
        if (!segments.has(l.segment)) throw new ConfigError(`host ${name}: unknown segment ${l.segment}`);
      }
      const ns = `fm${id}-${name}`;
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      const peers = new Map<string, string>();
      const devs = new Map<string, string>();
      for (const [i, l] of init.links.entries()) {
        const dev = `eth${i}`;
        const peer = `${name}-${i}`;
        const seg = segments.get(l.segment) as Segment;
        // Both ends are created directly in their namespaces: nothing appears in the root namespace.
        await ip(['link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', sw]);
        await ip(['-n', sw, 'link', 'set', peer, 'master', seg.bridge]);
        await ip(['-n', sw, 'link', 'set', peer, 'up']);
        await ip(['-n', ns, 'addr', 'add', l.address.includes('/') ? l.address : `${l.address}/24`, 'dev', dev]);
        await ip(['-n', ns, 'link', 'set', dev, 'up']);
        peers.set(l.segment, peer);
        devs.set(l.segment, dev);
      }
      if (init.gateway) await ip(['-n', ns, 'route', 'add', 'default', 'via', init.gateway]);
      if (init.forwarding) await ip(['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      const setLink = async (state: 'up' | 'down', segment?: string) => {
        const which = segment ? [peers.get(segment)] : [...peers.values()];
        for (const p of which) {
          if (p === undefined) throw new ConfigError(`host ${name} is not on segment ${segment}`);
          await ip(['-n', sw, 'link', 'set', p, state]);
        }
      };
      const devOf = (segment: string): string => {
        const d = devs.get(segment);
        if (d === undefined) throw new ConfigError(`host ${name} is not on segment ${segment}`);
        return d;
      };
      const delayers = new Map<string, ManagedProcess>();
      const host: Host = {
        name,
        ns,
        dev: devOf,
        async nat(nat) {
          if (!init.forwarding) throw new ConfigError(`host ${name}: NAT needs forwarding: true`);
          await applyNat(ns, devOf(nat.outSegment), nat.mapping ?? 'endpoint-independent');
        },
        async shape(segment, shape) {
          validateShape(shape);
          const dev = devOf(segment);
          await delayers.get(dev)?.stop('SIGTERM', 2000);
          delayers.delete(dev);
          await clearShape(ns, dev);
          const queue = 1 + [...devs.values()].indexOf(dev);
          const delayer = await emulatedDelay(queue, shape.delayMs ?? 0);
          if (delayer) {
            // The consumer binds its queue before any packet is sent to it.
            const logFile = join(tmpdir(), `fm${id}-${name}-${dev}.delay`);
            rmSync(logFile, { force: true });
            const p = host.spawn({ name: `nfqdelay-${name}-${dev}`, ...delayer, logFile });
            delayers.set(dev, p);
            const deadline = Date.now() + 10_000;
            let text = '';
            while (!text.includes('ready')) {
              if (!p.running() || Date.now() > deadline) {
                throw new PrerequisiteError(`nfqdelay did not start in ${name}: ${text}`);
              }
              await new Promise((r) => setTimeout(r, 20));
              try {
                text = readFileSync(logFile, 'utf8');
              } catch {
                // Not written yet.
              }
            }
          }
          await applyShape(ns, dev, queue, shape);
        },
        ip: (init.links[0]?.address ?? '').split('/')[0] as string,
        async exec(cmd, args = [], opts = {}) {
          try {
            const r = await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: opts.timeoutMs ?? 30_000 });
            return { stdout: r.stdout, stderr: r.stderr, code: 0 };
          } catch (err) {
            const e = err as { stdout?: string; stderr?: string; code?: number | string };
            return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : -1 };
          }
        },
        spawn(s) {
          const p = spawnManaged({ ...s, cmd: 'ip', args: ['netns', 'exec', ns, s.cmd, ...(s.args ?? [])] });
          procs.add(p);
          void p.exited.then(() => procs.delete(p));
          return p;
        },
        cutLink: (segment) => setLink('down', segment),
        restoreLink: (segment) => setLink('up', segment),
      };
      hosts.set(name, host);
      return host;
    },
    async attachRoot(segment, address) {
      if (!TEST_NET.test(address)) throw new ConfigError(`${address}: use 198.18.0.0/15 only`);
      const seg = segments.get(segment);
      if (!seg) throw new ConfigError(`unknown segment ${segment}`);
      const dev = `fm${id}-r${rootLinks}`;
      const peer = `root-${rootLinks++}`;
      // The root end carries the lab id in its name: parallel labs cannot clash, and deleting the
      // switch namespace removes the pair.
      await ip(['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer, 'netns', sw]);
      await ip(['-n', sw, 'link', 'set', peer, 'master', seg.bridge]);
      await ip(['-n', sw, 'link', 'set', peer, 'up']);
      await ip(['addr', 'add', address.includes('/') ? address : `${address}/24`, 'dev', dev]);
      await ip(['link', 'set', dev, 'up']);
      return { dev, ip: address.split('/')[0] as string };
    },
    async addRouter(name, r) {
      const host = await lab.addHost(name, {
        links: [r.inside, r.outside],
        forwarding: true,
        gateway: r.gateway,
      });
      await host.nat({ outSegment: r.outside.segment, mapping: r.mapping });
      return host;
    },
    host(name) {
      const h = hosts.get(name);
      if (!h) throw new ConfigError(`no host ${name} in lab ${id}`);
      return h;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.all([...procs].map((p) => p.stop('SIGTERM', 3000)));
      destroySync(id);
      // Namespace deletion is asynchronous in the kernel: wait until the names are gone.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const { stdout } = await run('ip', ['netns', 'list']);
        if (!stdout.includes(`fm${id}-`)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      unhook();
    },
  };
  return lab;
}

/** Names of the network namespaces that belong to any netlab (for leak checks). */
export async function labNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^fm[0-9a-f]{6}-/.test(n));
}
