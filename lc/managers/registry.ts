/**
 * The one place that says which manager serves which Sedna kind. A kind with no factory here gets
 * the forwarding manager (objects kept, worker reports forwarded as Sedna's upstream message).
 */
import { SEDNA_KINDS, type SednaKind } from '../../common/wire/index.ts';
import { createDatasetManager } from './dataset.ts';
import { createForwardingManager, withModels } from './forward.ts';
import { createIncrementalManager } from './incremental.ts';
import { createLifelongManager } from './lifelong.ts';
import type { Manager, ManagerContext } from './types.ts';

/** Options of the managers that have any (LcInit carries them). */
export interface ManagersInit {
  /** Dataset index re-read period (ms). Default DATASET_PERIOD_MS (Sedna's 60 s). */
  datasetPeriodMs?: number;
  /** Directory of storage credentials, `<dir>/<namespace>/<secret>/<KEY>` (docs/lc.md). Undefined: none. */
  credentialsDir?: string;
}

export type ManagerFactory = (ctx: ManagerContext, init: ManagersInit) => Manager;

/** Sedna's JI manager forwards only `ownerInfo` (its upstream message has `models: null`). */
const jointInference: ManagerFactory = () =>
  createForwardingManager({
    kind: 'jointinferenceservice',
    statusOf: (m) => ({ phase: m.kind, status: m.status, output: { models: null, ownerInfo: m.ownerInfo ?? null } }),
  });

export const MANAGER_FACTORIES: Partial<Record<SednaKind, ManagerFactory>> = {
  dataset: (ctx, init) => createDatasetManager(ctx, init),
  // Sedna's model manager keeps models for IL/LL and ignores worker messages.
  model: () => createForwardingManager({ kind: 'model' }),
  jointinferenceservice: jointInference,
  federatedlearningjob: () => createForwardingManager({ kind: 'federatedlearningjob', statusOf: withModels }),
  incrementallearningjob: (ctx) => createIncrementalManager(ctx),
  lifelonglearningjob: (ctx) => createLifelongManager(ctx),
};

/** One manager per Sedna kind: `extra` (tests, or a manager being built) over MANAGER_FACTORIES over forwarding. */
export function createManagers(
  ctx: ManagerContext,
  init: ManagersInit = {},
  extra: Partial<Record<SednaKind, ManagerFactory>> = {},
): Map<SednaKind, Manager> {
  const out = new Map<SednaKind, Manager>();
  for (const kind of SEDNA_KINDS) {
    const factory = extra[kind] ?? MANAGER_FACTORIES[kind];
    const m = factory ? factory(ctx, init) : createForwardingManager({ kind, statusOf: withModels });
    out.set(kind, m);
  }
  return out;
}
