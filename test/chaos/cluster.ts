/**
 * The CI-sized chaos cluster on loopback: a real API server (envtest), GM replicas (hub only, the
 * fencing probe writing through the guard every 200 ms), LC processes (SQLite stores, a rootfs
 * with Dataset index files), and a mesh of three agents — a relay, one advertising an echo service,
 * one forwarding a local port to it — for the tunnel probes. Every component writes the history
 * (FEDMESH_HISTORY); each is an Actor the injector can kill, pause and restart.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../../common/process/index.ts';
import { targetLabel } from '../../common/sedna/targets.ts';
import { type ControlPlane, startControlPlane } from '../../controlplane/index.ts';
import { MESH_NODE_FLAGS } from '../../mesh/constants.ts';
import { generatePsk } from '../../mesh/pnet/psk.ts';
import { startReplica } from '../gm/replicas.ts';
import { HUB_ONLY, nodeToken, until } from '../hub/helpers.ts';
import { type HistoryWriter, historyWriter } from './history.ts';
import { type Actor, apiServerActor, delegateActor, processActor } from './injector.ts';
import type { FaultTarget } from './schedule.ts';
import { startEcho } from './tunnel.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');
export const NS = 'chaos';
const ECHO = 'chaos-echo';

export interface ClusterInit {
  dir: string;
  replicas?: number;
  lcs?: number;
}

export interface LcHandle {
  node: string;
  url: string;
  rootfs: string;
}

export interface ChaosCluster {
  dir: string;
  historyFile: string;
  history: HistoryWriter;
  plane: ControlPlane;
  rest: KubeRest;
  lcs: LcHandle[];
  actors: Actor[];
  /** What the schedule may do to whom. */
  targets: FaultTarget[];
  /** Per process actor: its current process and its /metrics URL (both change on restarts). */
  processes: Map<string, { proc(): ManagedProcess; metricsUrl(): string }>;
  /** The edge agent's forward to the echo service (through the tunnel). */
  tunnel: { host: string; port: number };
  stop(): Promise<void>;
}

async function waitHttp(url: string, proc: ManagedProcess, what: string, log: string) {
  await until(what, 30_000, async () => {
    if (!proc.running()) throw new Error(`${what}: exited\n${readFileSync(log, 'utf8').slice(-2000)}`);
    return (await fetch(url, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok === true;
  });
}

export async function startChaosCluster(init: ClusterInit): Promise<ChaosCluster> {
  const dir = init.dir;
  mkdirSync(dir, { recursive: true });
  const historyFile = join(dir, 'history.jsonl');
  writeFileSync(historyFile, '');
  const history = historyWriter(historyFile, 'harness');
  const envFor = (who: string) => ({ ...process.env, FEDMESH_HISTORY: historyFile, FEDMESH_HISTORY_WHO: who });
  const cleanup: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  };
  try {
    const plane = await startControlPlane({ dir: join(dir, 'plane') });
    cleanup.push(() => plane.stop());
    const rest = await createKubeRest(plane.kubeConfig());
    cleanup.push(async () => rest.close());
    await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
    const actors: Actor[] = [apiServerActor(plane)];
    const processes: ChaosCluster['processes'] = new Map();
    const metricsUrls = new Map<string, string>();
    const track = (a: ReturnType<typeof processActor>) => {
      actors.push(a);
      processes.set(a.name, { proc: a.proc, metricsUrl: () => metricsUrls.get(a.name) ?? '' });
      cleanup.push(() => a.proc().stop('SIGKILL'));
    };
    const targets: FaultTarget[] = [{ name: 'apiserver', role: 'apiserver', faults: ['kill9', 'pause', 'restart'] }];

    // GM replicas: restarted on the same hub port, where their LCs expect them.
    const wsPorts: number[] = [];
    for (let i = 0; i < (init.replicas ?? 2); i++) {
      const id = `gm-${String.fromCharCode(97 + i)}`;
      const wsPort = await freePort();
      wsPorts.push(wsPort);
      const spawn = async () => {
        const r = await startReplica(plane, {
          id,
          namespace: NS,
          readyz: 'replica',
          probe: '200ms',
          wsPort,
          env: envFor(id),
          args: HUB_ONLY,
          logFile: join(dir, `${id}.log`),
        });
        metricsUrls.set(id, `http://127.0.0.1:${r.port}/metrics`);
        return r.proc;
      };
      track(processActor(id, 'gm', await spawn(), spawn));
      targets.push({ name: id, role: 'gm', faults: ['kill9', 'pause', 'term', 'restart'] });
    }

    // The Lease holder at the moment of the fault: leader fault rounds, not a coin toss between replicas.
    const replicas = actors.filter((a) => a.role === 'gm');
    const holder = async () => {
      const lease = await rest.request<{ spec?: { holderIdentity?: string } }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/gm`,
        { signal: AbortSignal.timeout(3000) },
      );
      const a = replicas.find((r) => r.name === lease.spec?.holderIdentity);
      if (!a) throw new Error(`no replica holds the lease (holder "${lease.spec?.holderIdentity ?? ''}")`);
      return a;
    };
    actors.push(delegateActor('gm-leader', 'gm-leader', holder));
    targets.push({ name: 'gm-leader', role: 'gm-leader', faults: ['kill9', 'pause', 'term'] });

    // LCs: one SQLite state dir each, kept across restarts.
    const lcs: LcHandle[] = [];
    for (let i = 0; i < (init.lcs ?? 2); i++) {
      const node = `edge-${i + 1}`;
      const d = join(dir, node);
      const rootfs = join(d, 'rootfs');
      mkdirSync(join(rootfs, 'data'), { recursive: true });
      const tokenFile = join(d, 'token');
      writeFileSync(tokenFile, await nodeToken(rest, NS, node));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const log = join(d, 'lc.log');
      const args = [CLI, 'lc', '--node', node, '--gm', wsPorts.map((p) => `127.0.0.1:${p}`).join(',')];
      args.push('--http-listen', `127.0.0.1:${port}`, '--state-dir', join(d, 'state'), '--token-file', tokenFile);
      args.push('--backoff-max', '500ms', '--rootfs', rootfs);
      const spawn = async () => {
        const p = spawnManaged({ name: `lc ${node}`, cmd: process.execPath, args, env: envFor(node), logFile: log });
        await waitHttp(`${url}/readyz`, p, `lc ${node} answers`, log);
        return p;
      };
      metricsUrls.set(node, `${url}/metrics`);
      track(processActor(node, 'lc', await spawn(), spawn));
      targets.push({ name: node, role: 'lc', faults: ['kill9', 'pause', 'term', 'restart'] });
      lcs.push({ node, url, rootfs });
    }

    // The mesh: a relay, the echo service's agent, the edge agent with the forward.
    const echoPort = await freePort();
    const echo = await startEcho(echoPort);
    cleanup.push(async () => echo.close());
    const pskFile = join(dir, 'mesh-psk');
    writeFileSync(pskFile, generatePsk(), { mode: 0o600 });
    const relayPort = await freePort();
    const relayNodes = [{ nodeName: 'relay', advertiseAddress: [`127.0.0.1:${relayPort}`] }];
    const fwdPort = await freePort();
    const agents: Array<[string, number, object, string[]]> = [
      ['relay', relayPort, {}, []],
      ['svc', await freePort(), { advertise: [{ name: ECHO, port: echoPort }] }, []],
      ['edge', await freePort(), {}, ['--forward', `127.0.0.1:${fwdPort}=@${ECHO}`]],
    ];
    for (const [name, port, extra, more] of agents) {
      const config = join(dir, `mesh-${name}.json`);
      writeFileSync(
        config,
        JSON.stringify({ pskFile, listen: `127.0.0.1:${port}`, mdns: false, relayNodes, ...extra }),
      );
      const status = await freePort();
      const log = join(dir, `mesh-${name}.log`);
      const args = [...MESH_NODE_FLAGS, CLI, 'mesh', '--config', config, '--node', name];
      args.push('--state-dir', join(dir, `mesh-${name}.state`), '--http-listen', `127.0.0.1:${status}`, ...more);
      const spawn = async () => {
        const p = spawnManaged({
          name: `mesh ${name}`,
          cmd: process.execPath,
          args,
          env: envFor(`mesh-${name}`),
          logFile: log,
        });
        await waitHttp(`http://127.0.0.1:${status}/status`, p, `mesh ${name} answers`, log);
        return p;
      };
      const a = processActor(`mesh-${name}`, name === 'relay' ? 'relay' : 'mesh', await spawn(), spawn);
      metricsUrls.set(a.name, `http://127.0.0.1:${status}/metrics`);
      track(a);
      targets.push({ name: `mesh-${name}`, role: a.role, faults: ['kill9', 'pause', 'restart'] });
    }

    return {
      dir,
      historyFile,
      history,
      plane,
      rest,
      lcs,
      actors,
      targets,
      processes,
      tunnel: { host: '127.0.0.1', port: fwdPort },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The label the GM leader's labeler would set: the fallback and the expectations select on it. */
export const routedTo = (node: string) => ({ [targetLabel(node)]: 'true' });
