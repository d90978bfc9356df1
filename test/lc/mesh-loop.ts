/**
 * A real mesh on loopback for the LC path tests and the lc-paths bench: `fedmesh mesh` processes on
 * 127.0.0.1 (distinct ports, no mDNS), one beside the GM advertising `fedmesh-gm` (it is also the
 * relay, so the others find it with nothing else configured), one on the LC side forwarding
 * `@fedmesh-gm` to a local port, and optionally a rogue PSK holder advertising `fedmesh-gm` too.
 * The LC dials `ws://127.0.0.1:<forward>/`: the WebSocket goes through the real tunnel.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../../common/process/index.ts';
import { generateServiceKey } from '../../mesh/advertise/endorse.ts';
import { MESH_NODE_FLAGS } from '../../mesh/constants.ts';
import { generatePsk } from '../../mesh/pnet/psk.ts';
import { until } from '../hub/helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');
export const GM_SERVICE = 'fedmesh-gm';

export interface LoopMeshInit {
  dir: string;
  /** The GM hub port the GM-side agent advertises (absent: it only relays, advertising nothing). */
  gmPort?: number;
  /** A rogue agent advertising fedmesh-gm → this port (something that is no GM). */
  roguePort?: number;
  /** Endorse the real GM's advertisement and have the LC side trust only that key. */
  serviceKeys?: boolean;
}

export interface LoopMesh {
  /** The LC's `--mesh-gm` URL: the LC-side agent's forward of @fedmesh-gm. */
  url: string;
  forwardPort: number;
  /** /status of the LC-side agent. */
  lcStatus(): Promise<Record<string, unknown>>;
  /** JSON log lines of an agent. */
  logs(name: 'gm' | 'lc' | 'rogue'): Array<Record<string, unknown>>;
  procs: Map<string, ManagedProcess>;
  stop(): Promise<void>;
}

export async function startLoopMesh(init: LoopMeshInit): Promise<LoopMesh> {
  const pskFile = join(init.dir, 'mesh-psk');
  writeFileSync(pskFile, generatePsk(), { mode: 0o600 });
  const keyFile = join(init.dir, 'gm-service-key');
  const pub = init.serviceKeys ? await generateServiceKey(keyFile) : undefined;
  const gmMeshPort = await freePort();
  const relayNodes = [{ nodeName: 'gm', advertiseAddress: [`127.0.0.1:${gmMeshPort}`] }];
  const base = (port: number) => ({ pskFile, listen: `127.0.0.1:${port}`, mdns: false, relayNodes });
  const forwardPort = await freePort();
  const procs = new Map<string, ManagedProcess>();
  const statusPorts = new Map<string, number>();
  const logFile = (name: string) => join(init.dir, `mesh-${name}.log`);
  const logs = (name: string) => {
    try {
      return readFileSync(logFile(name), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  };
  const start = async (name: string, cfg: object, args: string[] = []) => {
    const configFile = join(init.dir, `mesh-${name}.json`);
    writeFileSync(configFile, JSON.stringify(cfg));
    const status = await freePort();
    statusPorts.set(name, status);
    const p = spawnManaged({
      name: `mesh ${name}`,
      cmd: process.execPath,
      args: [
        ...MESH_NODE_FLAGS,
        CLI,
        'mesh',
        '--config',
        configFile,
        '--node',
        name,
        '--state-dir',
        join(init.dir, `mesh-${name}.state`),
        '--http-listen',
        `127.0.0.1:${status}`,
        ...args,
      ],
      logFile: logFile(name),
    });
    procs.set(name, p);
    await until(`mesh ${name} to start`, 20_000, () => {
      if (!p.running()) throw new Error(`mesh ${name} exited:\n${readFileSync(logFile(name), 'utf8').slice(-2000)}`);
      return logs(name).some((l) => l.msg === 'mesh node started');
    });
  };
  const stop = async () => {
    for (const p of [...procs.values()].reverse()) await p.stop('SIGKILL').catch(() => {});
  };
  try {
    await start('gm', {
      ...base(gmMeshPort),
      ...(init.gmPort !== undefined && { advertise: [{ name: GM_SERVICE, port: init.gmPort }] }),
      ...(pub && { serviceKeyFile: keyFile }),
    });
    if (init.roguePort !== undefined) {
      await start('rogue', { ...base(await freePort()), advertise: [{ name: GM_SERVICE, port: init.roguePort }] });
    }
    await start('lc', { ...base(await freePort()), ...(pub && { serviceKeys: { [GM_SERVICE]: [pub] } }) }, [
      '--forward',
      `127.0.0.1:${forwardPort}=@${GM_SERVICE}`,
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `ws://127.0.0.1:${forwardPort}/`,
    forwardPort,
    async lcStatus() {
      const r = await fetch(`http://127.0.0.1:${statusPorts.get('lc')}/status`);
      return (await r.json()) as Record<string, unknown>;
    },
    logs: (name) => logs(name),
    procs,
    stop,
  };
}

/** Waits until the LC-side agent knows `n` providers of fedmesh-gm (records reached it). */
export async function providersKnown(mesh: LoopMesh, n: number, ms = 30_000): Promise<string[]> {
  let nodes: string[] = [];
  await until(`${n} fedmesh-gm providers known`, ms, async () => {
    const s = (await mesh.lcStatus().catch(() => ({}))) as {
      services?: { wanted?: Record<string, Array<{ node: string }>>; unendorsed?: Record<string, string[]> };
    };
    nodes = (s.services?.wanted?.[GM_SERVICE] ?? []).map((p) => p.node);
    return nodes.length >= n;
  });
  return nodes;
}
