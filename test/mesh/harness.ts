/**
 * Mesh test harness on netlab: a topology of NATed LANs and a public segment with relays, and
 * real `fedmesh mesh` processes in the hosts, each with its config file, state dir, log and
 * /status endpoint.
 *
 *   pub  198.18.0.0/24   r1 .11  r2 .12  r3 .13  c .20   routers ra .1  rb .2
 *   lana 198.18.1.0/24   ra .1   a1 .11  a2 .12           (behind ra, NAT)
 *   lanb 198.18.2.0/24   rb .1   b1 .11                   (behind rb, NAT)
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagedProcess } from '../../common/process/index.ts';
import { MESH_NODE_FLAGS } from '../../mesh/constants.ts';
import { generatePsk } from '../../mesh/pnet/psk.ts';
import { createLab, type Host, type Lab, type NatMapping } from '../../netlab/index.ts';
import { ECHO_SERVER, TRANSFER_CLIENT } from './tools.ts';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/fedmesh.ts');
export const MESH_PORT = 20006;
export const STATUS_PORT = 9100;
export const ECHO_PORT = 7000;

export const ADDR = {
  r1: '198.18.0.11',
  r2: '198.18.0.12',
  r3: '198.18.0.13',
  c: '198.18.0.20',
  a1: '198.18.1.11',
  a2: '198.18.1.12',
  b1: '198.18.2.11',
} as const;
export type NodeName = keyof typeof ADDR;

export interface TopologyInit {
  /** Hosts to create (routers are added as needed). */
  nodes: NodeName[];
  /** NAT behaviour of both routers. Default endpoint-independent. */
  mapping?: NatMapping;
  /** Every node on the public segment, no NAT (benchmarks: plain TCP between the same hosts). */
  flat?: boolean;
}

/** Addresses in a flat topology. */
export const FLAT_ADDR: Record<NodeName, string> = {
  r1: '198.18.0.11',
  r2: '198.18.0.12',
  r3: '198.18.0.13',
  c: '198.18.0.20',
  a1: '198.18.0.31',
  a2: '198.18.0.32',
  b1: '198.18.0.41',
};

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface MeshProc {
  name: NodeName;
  host: Host;
  proc: ManagedProcess;
  logFile: string;
  configFile: string;
  logs(): LogLine[];
  /** Waits for a log line matching `pred`; returns it. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  status(): Promise<MeshStatusJson>;
  /** Rewrites this node's config file (the node reloads it). */
  writeConfig(cfg: object): void;
}

export interface MeshStatusJson {
  name: string;
  relay: boolean;
  relays: Array<{
    name: string;
    source: 'configured' | 'discovered';
    connected: boolean;
    verified: boolean;
    reserved: boolean;
    rttMs?: number;
  }>;
  reachability: { reachable: boolean; ok: number; against: number };
  relayDiscovery: { mode: 'automatic' | 'configured'; serving: boolean };
  peers: Array<{ node?: string; route: string }>;
  tunnels: Array<{
    id: string;
    node: string;
    route?: { kind: string; relay?: string };
    resumes: number;
    direction: string;
  }>;
}

export interface MeshLab {
  lab: Lab;
  dir: string;
  pskFile: string;
  host(name: NodeName): Host;
  /** Config object for a node: relays given by name, plus extras. */
  config(relays: NodeName[], extra?: object): object;
  start(
    name: NodeName,
    opts?: { relays?: NodeName[]; config?: object; forwards?: string[]; pskFile?: string; args?: string[] },
  ): Promise<MeshProc>;
  /** Address of a node in this topology. */
  addr(name: NodeName): string;
  /** Runs a `node -e` tool (tools.ts) in a host; its JSON lines are readable while it runs. */
  tool(from: NodeName, script: string, args: string[]): ToolRun;
  /** Starts an echo server in a host, on 127.0.0.1:ECHO_PORT unless told otherwise. */
  echo(name: NodeName, at?: { host: string; port: number }): Promise<void>;
  /** Runs a transfer from `from` to 127.0.0.1:port (or host:port) there; resolves with the client's result. */
  transfer(from: NodeName, port: number, bytes: number, rate?: number, host?: string): Transfer;
  destroy(): Promise<void>;
}

export interface TransferResult {
  sent?: number;
  received: number;
  identical?: boolean;
  ms?: number;
  error?: string;
}

export interface ToolRun {
  proc: ManagedProcess;
  lines(): Array<Record<string, unknown>>;
}

export interface Transfer {
  /** Bytes echoed back so far (from progress lines). */
  progress(): number;
  done: Promise<TransferResult>;
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { until };

export async function createMeshLab(init: TopologyInit): Promise<MeshLab> {
  const lab = await createLab();
  const dir = mkdtempSync(join(tmpdir(), 'fm-meshlab-'));
  const pskFile = join(dir, 'psk');
  writeFileSync(pskFile, generatePsk(), { mode: 0o600 });
  const hosts = new Map<NodeName, Host>();
  try {
    await lab.addSegment('pub');
    const needA = !init.flat && init.nodes.some((n) => n.startsWith('a'));
    const needB = !init.flat && init.nodes.some((n) => n.startsWith('b'));
    if (needA) {
      await lab.addSegment('lana');
      await lab.addRouter('ra', {
        inside: { segment: 'lana', address: '198.18.1.1/24' },
        outside: { segment: 'pub', address: '198.18.0.1/24' },
        mapping: init.mapping,
      });
    }
    if (needB) {
      await lab.addSegment('lanb');
      await lab.addRouter('rb', {
        inside: { segment: 'lanb', address: '198.18.2.1/24' },
        outside: { segment: 'pub', address: '198.18.0.2/24' },
        mapping: init.mapping,
      });
    }
    for (const n of init.nodes) {
      const ip = init.flat ? FLAT_ADDR[n] : ADDR[n];
      const seg = init.flat ? 'pub' : n.startsWith('a') ? 'lana' : n.startsWith('b') ? 'lanb' : 'pub';
      const gateway = seg === 'lana' ? '198.18.1.1' : seg === 'lanb' ? '198.18.2.1' : undefined;
      hosts.set(n, await lab.addHost(n, { links: [{ segment: seg, address: `${ip}/24` }], gateway }));
    }
  } catch (err) {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const host = (n: NodeName) => {
    const h = hosts.get(n);
    if (!h) throw new Error(`no host ${n}`);
    return h;
  };
  const addrOf = (n: NodeName) => (init.flat ? FLAT_ADDR[n] : ADDR[n]);
  const config = (relays: NodeName[], extra: object = {}) => ({
    pskFile,
    listen: `0.0.0.0:${MESH_PORT}`,
    relayNodes: relays.map((r) => ({ nodeName: r, advertiseAddress: [addrOf(r)] })),
    ...extra,
  });
  return {
    lab,
    dir,
    pskFile,
    host,
    config,
    addr: addrOf,
    async start(name, opts = {}) {
      const h = host(name);
      const configFile = join(dir, `${name}.json`);
      const cfg = opts.config ?? config(opts.relays ?? [], opts.pskFile ? { pskFile: opts.pskFile } : {});
      writeFileSync(configFile, JSON.stringify(cfg, null, 2));
      const logFile = join(dir, `${name}.log`);
      const args = [
        ...MESH_NODE_FLAGS,
        CLI,
        'mesh',
        '--config',
        configFile,
        '--node',
        name,
        '--state-dir',
        join(dir, `${name}.state`),
        '--http-listen',
        `127.0.0.1:${STATUS_PORT}`,
        ...(opts.forwards ?? []).flatMap((f) => ['--forward', f]),
        ...(opts.args ?? []),
      ];
      const proc = h.spawn({ name: `mesh-${name}`, cmd: process.execPath, args, logFile });
      const logs = (): LogLine[] => {
        let text = '';
        try {
          text = readFileSync(logFile, 'utf8');
        } catch {
          return [];
        }
        return text
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LogLine);
      };
      const mp: MeshProc = {
        name,
        host: h,
        proc,
        logFile,
        configFile,
        logs,
        waitLog: (pred, timeoutMs = 15_000) => until(`a log line on ${name}`, () => logs().find(pred), timeoutMs),
        async status() {
          const r = await h.exec('curl', ['-fsS', '-m', '2', `http://127.0.0.1:${STATUS_PORT}/status`]);
          if (r.code !== 0) throw new Error(`status of ${name}: ${r.stderr}`);
          return JSON.parse(r.stdout) as MeshStatusJson;
        },
        writeConfig(c) {
          // Replaced atomically, as a ConfigMap update or an editor does.
          writeFileSync(`${configFile}.tmp`, JSON.stringify(c, null, 2));
          renameSync(`${configFile}.tmp`, configFile);
        },
      };
      await until(
        `${name} to start`,
        () => {
          if (!proc.running()) throw new Error(`${name} exited:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
          return logs().find((l) => l.msg === 'mesh node started');
        },
        20_000,
      );
      return mp;
    },
    tool(from, script, args) {
      const logFile = join(dir, `tool-${from}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`);
      const proc = host(from).spawn({
        name: `tool-${from}`,
        cmd: process.execPath,
        args: ['-e', script, ...args],
        logFile,
      });
      return {
        proc,
        lines: () => {
          try {
            return readFileSync(logFile, 'utf8')
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l) as Record<string, unknown>);
          } catch {
            return [];
          }
        },
      };
    },
    async echo(name, at = { host: '127.0.0.1', port: ECHO_PORT }) {
      const h = host(name);
      const logFile = join(dir, `${name}-echo-${at.port}.log`);
      const p = h.spawn({
        name: `echo-${name}`,
        cmd: process.execPath,
        args: ['-e', ECHO_SERVER, String(at.port), at.host],
        logFile,
      });
      await until(
        `echo on ${name}`,
        () => {
          if (!p.running()) throw new Error('echo server exited');
          try {
            return readFileSync(logFile, 'utf8').includes('listening') ? true : undefined;
          } catch {
            return undefined;
          }
        },
        10_000,
      );
    },
    transfer(from, port, bytes, rate = 0, target = '127.0.0.1') {
      const h = host(from);
      const logFile = join(dir, `transfer-${from}-${port}-${Date.now()}.log`);
      const p = h.spawn({
        name: `transfer-${from}`,
        cmd: process.execPath,
        args: ['-e', TRANSFER_CLIENT, target, String(port), String(bytes), String(rate)],
        logFile,
      });
      const lines = () => {
        try {
          const text = readFileSync(logFile, 'utf8');
          // Only whole lines: the client may be writing the next one as we read.
          return text
            .slice(0, text.lastIndexOf('\n') + 1)
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as TransferResult & { progress?: number });
        } catch {
          return [];
        }
      };
      return {
        progress: () => Math.max(0, ...lines().map((l) => l.progress ?? 0)),
        // The result line is the answer, whether or not the client's exit follows promptly (one was
        // seen hanging after printing it, stalling the benchmark): it is stopped once it has spoken.
        done: (async () => {
          const result = () =>
            lines()
              .filter((l) => l.progress === undefined)
              .at(-1);
          for (;;) {
            const last = result();
            if (last) {
              await p.stop('SIGTERM', 2000);
              return last;
            }
            if (!p.running()) {
              return (
                result() ?? {
                  received: 0,
                  error: `transfer client printed nothing (${readFileSync(logFile, 'utf8').slice(-500)})`,
                }
              );
            }
            await Promise.race([p.exited, new Promise((r) => setTimeout(r, 100))]);
          }
        })(),
      };
    },
    async destroy() {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
