/**
 * Helpers for the operator integration tests: an in-process operators instance led by the real
 * elector on a real Lease, and the small things a kubelet or the LC hub would do (set pod phases,
 * append status conditions, finish deleting pods).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { sleep } from '../../common/async.ts';
import { createKubeRest, isStatus, type KubeRest } from '../../common/kube/rest.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { installCrds } from '../../crds/index.ts';
import { exampleObject, loadExamples } from '../../examples/index.ts';
import { createLeaderElector, createLeaseLock } from '../../gm/election/index.ts';
import { createOperators, type Operators, type OperatorsInit } from '../../gm/operators/index.ts';
import {
  collectionPath,
  type KubeObject,
  objectPath,
  RESOURCES,
  type ResourceType,
} from '../../gm/operators/resources.ts';
import type { ControlPlane, Envtest } from '../envtest/index.ts';

export { RESOURCES };

/** pino to nowhere unless FEDMESH_TEST_LOG is set (then to stderr). */
export function testLogger(): Logger {
  return createLogger({
    component: 'test',
    level: process.env.FEDMESH_TEST_LOG ?? 'silent',
    destination: process.env.FEDMESH_TEST_LOG ? undefined : new Writable({ write: (_c, _e, cb) => cb() }),
  });
}

export interface Running {
  rest: KubeRest;
  operators: Operators;
  /** Stops the operators (ends the term) and the elector. */
  stop(): Promise<void>;
}

/** Lease timing of the elector that runs the operators in tests. */
export interface ElectorTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/**
 * Runs the operators for one namespace in this process, behind a real Lease elector (so every
 * write passes a real fencing guard). Stopped in `t.after`. `opts.log` receives their log
 * (default: nowhere); `opts.timing` defaults to 4 s / 3 s / 0.5 s.
 */
export async function runOperators(
  env: Envtest,
  t: TestContext,
  ns: string,
  init: Partial<OperatorsInit> = {},
  opts: { kc?: KubeConfig; log?: Logger; timing?: ElectorTiming } = {},
): Promise<Running> {
  await ensureCrds(env);
  const rest = await createKubeRest(opts.kc ?? env.kubeConfig());
  const log = opts.log ?? testLogger();
  const lock = createLeaseLock({ namespace: ns, name: 'gm', identity: 'test-gm' }, rest);
  const ac = new AbortController();
  let operators: Operators | undefined;
  const elector = createLeaderElector(
    opts.timing ?? { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    { lock, log, callbacks: { onStartedLeading: (s) => operators?.start(s), onStoppedLeading: () => {} } },
  );
  const ops = createOperators(
    { replicaId: 'test-gm', namespace: ns, workers: 2, baseBackoffMs: 20, maxBackoffMs: 1000, ...init },
    { rest, guard: elector.guard, log },
  );
  operators = ops;
  const running = elector.run(ac.signal);
  const stop = async () => {
    ac.abort();
    await running;
    rest.close();
  };
  t.after(stop);
  await until('operators synced', 20_000, () => ops.term()?.synced() === true);
  return { rest, operators: ops, stop };
}

const crds = new Map<string, Promise<void>>();
/** Installs the Sedna CRDs once per control plane (inside a test: the plane starts in a hook). */
export function ensureCrds(env: Envtest): Promise<void> {
  let p = crds.get(env.plane.server);
  if (!p) {
    p = installCrds(env.kubeConfig());
    crds.set(env.plane.server, p);
  }
  return p;
}

/** Polls `fn` every 50 ms until it returns truthy; throws with `what` after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, fn: () => T | Promise<T>): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await sleep(50);
  }
}

export async function get(rest: KubeRest, r: ResourceType, ns: string, name: string): Promise<KubeObject | undefined> {
  try {
    return await rest.request<KubeObject>('GET', objectPath(r, ns, name));
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

export async function list(rest: KubeRest, r: ResourceType, ns: string, labelSelector?: string): Promise<KubeObject[]> {
  const out = await rest.request<{ items: KubeObject[] }>('GET', collectionPath(r, ns), { query: { labelSelector } });
  return out.items;
}

/** Creates every object of an example file (examples/FILE) in `ns`; returns them by `Kind/name`. */
export async function applyExample(rest: KubeRest, ns: string, file: string): Promise<Map<string, KubeObject>> {
  const out = new Map<string, KubeObject>();
  for (const e of loadExamples().filter((x) => x.file === file)) {
    const created = await create(rest, ns, structuredClone(e.object) as unknown as KubeObject);
    out.set(e.id, created);
  }
  return out;
}

export function example(id: string): KubeObject {
  return exampleObject(id) as unknown as KubeObject;
}

export async function create(rest: KubeRest, ns: string, obj: KubeObject): Promise<KubeObject> {
  const r = Object.values(RESOURCES).find((x) => x.kind === obj.kind) as ResourceType;
  obj.metadata.namespace = ns;
  return rest.request<KubeObject>('POST', collectionPath(r, ns), { body: obj });
}

/** What a kubelet does: report a pod's phase through the status subresource. */
export async function setPodPhase(rest: KubeRest, ns: string, name: string, phase: string): Promise<void> {
  await rest.request('PATCH', objectPath(RESOURCES.Pod, ns, name, 'status'), {
    body: { status: { phase } },
    contentType: 'application/merge-patch+json',
  });
}

/** What a kubelet does after a graceful delete: remove the pods marked for deletion. */
export async function finishPodDeletions(rest: KubeRest, ns: string): Promise<void> {
  for (const p of await list(rest, RESOURCES.Pod, ns)) {
    if (!p.metadata.deletionTimestamp) continue;
    await rest
      .request('DELETE', objectPath(RESOURCES.Pod, ns, p.metadata.name), { body: { gracePeriodSeconds: 0 } })
      .catch((err) => {
        if (!isStatus(err, 404)) throw err;
      });
  }
}

/** What the hub does with an LC report: append a condition through the status subresource (read, then patch at that version). */
export async function appendCondition(
  rest: KubeRest,
  r: ResourceType,
  ns: string,
  name: string,
  cond: Record<string, unknown>,
): Promise<void> {
  for (;;) {
    const cur = (await get(rest, r, ns, name)) as KubeObject;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const conditions = [
      ...(cur.status?.conditions ?? []),
      { status: 'True', lastHeartbeatTime: now, lastTransitionTime: now, message: 'reported by lc', ...cond },
    ];
    try {
      await rest.request('PATCH', objectPath(r, ns, name, 'status'), {
        body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, status: { conditions } },
        contentType: 'application/merge-patch+json',
      });
      return;
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
  }
}

/** resourceVersions of every object of these resources in `ns`, by `plural/name`. */
export async function versions(rest: KubeRest, ns: string, resources: ResourceType[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of resources) {
    for (const o of await list(rest, r, ns))
      out.set(`${r.plural}/${o.metadata.name}`, o.metadata.resourceVersion ?? '');
  }
  return out;
}

/** Env of the first container as a name -> value map. */
export function envOf(spec: KubeObject['spec']): Record<string, string> {
  const c = spec?.containers?.[0] ?? spec?.template?.spec?.containers?.[0];
  return Object.fromEntries((c?.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
}

/**
 * Compacts etcd at its current revision (what kube-apiserver's compactor does every 5 minutes), so
 * that watches from older versions get 410 Gone. Finds etcd's client URL in its command line.
 */
export async function compactEtcd(plane: ControlPlane): Promise<void> {
  const args = readFileSync(`/proc/${plane.state.etcdPid}/cmdline`, 'utf8').split('\0');
  const url = args.find((a) => a.startsWith('--listen-client-urls='))?.split('=')[1];
  if (!url) throw new Error('etcd client URL not found');
  const key = Buffer.from('/').toString('base64');
  const range = (await (
    await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key, limit: 1 }) })
  ).json()) as { header: { revision: string } };
  const res = await fetch(`${url}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: range.header.revision, physical: true }),
  });
  if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
}
