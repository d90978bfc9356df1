/**
 * Test helpers for the incremental and lifelong learning managers: a ManagerContext over a map of
 * objects with the reports it received, a root-fs folder, and a clock the test moves.
 */
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { kindOfSedna, type SednaKind } from '../../common/wire/index.ts';
import type { LcReport } from '../index.ts';
import type { StoredObject } from '../store/types.ts';
import type { ManagerClock } from './stagejob.ts';
import type { ManagerContext } from './types.ts';

export interface FakeClock extends ManagerClock {
  advance(ms: number): void;
  setWall(d: Date): void;
}

export function fakeClock(wall = new Date(2024, 0, 15, 12, 0, 0)): FakeClock {
  let mono = 1000;
  let w = wall.getTime();
  return {
    now: () => mono,
    wall: () => new Date(w),
    sleep: (_ms, signal) => new Promise((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r()))),
    advance(ms) {
      mono += ms;
      w += ms;
    },
    setWall(d) {
      w = d.getTime();
    },
  };
}

export interface FakeCtx extends ManagerContext {
  reports: LcReport[];
  objects: Map<string, StoredObject>;
  put(kind: SednaKind, namespace: string, object: Record<string, unknown>): StoredObject;
  /** Makes `report` throw (a full outbox) while set. */
  refuse?: Error;
  /** Writes or appends lines to a node file under rootfs. */
  writeLines(path: string, lines: string[], append?: boolean): void;
}

export function fakeCtx(stateDir?: string): FakeCtx {
  const rootfs = mkdtempSync(join(tmpdir(), 'fedmesh-rootfs-'));
  const objects = new Map<string, StoredObject>();
  const key = (k: string, ns: string, n: string) => `${k}/${ns}/${n}`;
  const ctx: FakeCtx = {
    node: 'edge-1',
    rootfs,
    stateDir,
    log: pino({ level: process.env.FEDMESH_TEST_LOG ?? 'silent' }),
    reports: [],
    objects,
    report(r) {
      if (ctx.refuse) throw ctx.refuse;
      ctx.reports.push(r);
    },
    get: (kind, namespace, name) => objects.get(key(kind, namespace, name)),
    put(kind, namespace, object) {
      const name = (object.metadata as { name: string }).name;
      const o: StoredObject = { kind: kindOfSedna(kind), namespace, name, object };
      objects.set(key(kind, namespace, name), o);
      return o;
    },
    writeLines(path, lines, append = false) {
      const file = join(rootfs, path);
      mkdirSync(dirname(file), { recursive: true });
      const body = lines.map((l) => `${l}\n`).join('');
      if (append) appendFileSync(file, body);
      else writeFileSync(file, body);
    },
  };
  return ctx;
}

export const cond = (stage: string, type: string, data?: unknown) => ({
  stage,
  type,
  status: 'True',
  ...(data ? { data: JSON.stringify(data) } : {}),
});

export const samples = (from: number, n: number) => Array.from({ length: n }, (_, i) => `img/${from + i}.jpg`);

/** The helmet example's objects in `ns`: dataset at /data/index.txt, models, an IL job. */
export function helmet(ctx: FakeCtx, ns: string, jobPatch: Record<string, unknown> = {}) {
  ctx.put('dataset', ns, {
    metadata: { name: 'ds' },
    spec: { url: '/data/index.txt', format: 'txt', nodeName: 'edge-1' },
  });
  ctx.put('model', ns, { metadata: { name: 'initial' }, spec: { url: '/models/base/model.ckpt', format: 'ckpt' } });
  ctx.put('model', ns, { metadata: { name: 'deploy' }, spec: { url: '/models/deploy/model.pb', format: 'pb' } });
  return {
    metadata: { name: 'il', namespace: ns },
    spec: {
      dataset: { name: 'ds', trainProb: 0.8 },
      initialModel: { name: 'initial' },
      trainSpec: {
        template: {},
        trigger: { checkPeriodSeconds: 60, condition: { operator: '>=', threshold: 8, metric: 'num_of_samples' } },
      },
      evalSpec: { template: {} },
      deploySpec: {
        model: { name: 'deploy', hotUpdateEnabled: false },
        trigger: { condition: { operator: '>', threshold: 0.1, metric: 'precision_delta' } },
        hardExampleMining: { name: 'IBT' },
        template: {},
      },
      outputDir: '/output',
      ...jobPatch,
    },
    status: { conditions: [cond('Train', 'Waiting')] },
  };
}
