/**
 * The manager for kinds that only keep their objects and forward worker reports, as Sedna's JI, FL
 * and model managers do, and the default for a kind with no manager of its own.
 */
import { kindOfSedna, type SednaKind } from '../../common/wire/index.ts';
import type { StoredObject } from '../store/types.ts';
import type { WorkerMessage } from '../worker-api.ts';
import type { Manager, WorkerOutcome } from './types.ts';

/** Sedna's upstream message of a worker (`{phase, status, output: {models, ownerInfo}}`). */
export type StatusOf = (m: WorkerMessage) => Record<string, unknown>;

/** FL, IL and LL forward the worker's results as `output.models` (Sedna's `Output.Models`). */
export const withModels: StatusOf = (m) => ({
  phase: m.kind,
  status: m.status,
  output: { models: m.results ?? null, ownerInfo: m.ownerInfo ?? null },
});

export interface ForwardingInit {
  kind: SednaKind;
  /** The report's status; undefined: the kind takes no worker messages (400, as Sedna drops them). */
  statusOf?: StatusOf;
}

export function createForwardingManager(init: ForwardingInit): Manager {
  const kind = kindOfSedna(init.kind);
  return {
    kind: init.kind,
    async start(signal) {
      if (signal.aborted) return;
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
    // The store holds the object; the host checks it is there before a worker message gets here.
    insert(_obj: StoredObject) {},
    delete(_namespace: string, _name: string) {},
    workerMessage(m): WorkerOutcome {
      if (!init.statusOf) {
        return { refuse: { status: 400, message: `${kind} takes no worker messages` } };
      }
      return { report: { kind, namespace: m.namespace, name: m.ownerName, status: init.statusOf(m) } };
    },
  };
}
