/**
 * The LC half of Sedna's Train -> Eval -> Deploy state machine (IncrementalLearningJob,
 * LifelongLearningJob): the GM moves stages through pods; the LC decides when a stage whose newest
 * condition is `Waiting` becomes `Ready`, and reports it with the stage's input. Per job:
 *
 * - samples: new lines of the Dataset's index file are split by `dataset.trainProb` (Sedna's
 *   int(trainProb * new) to train, the rest one held-out eval batch, the newest 5 batches kept);
 * - Train/Waiting: every `checkPeriodSeconds`, when the train trigger holds on
 *   `num_of_samples` (the train samples waiting) inside its timer: round + 1, the samples written to
 *   `<outputDir>/data/train/<round>/data.txt`, report `train ready` with models, dataURL, outputDir;
 * - Eval/Waiting: at once, the eval batches written to `<outputDir>/data/eval/<round>/data.txt`,
 *   report `eval ready` with the trained and reference models;
 * - Deploy/Waiting and (IL hot update) Deploy/Running: the flavor decides (incremental.ts, lifelong.ts);
 * - worker messages are forwarded as Sedna's LC forwards them (`{phase, status, output}`); the GM
 *   appends each as a condition and moves on from there.
 *
 * Each step is keyed by the index of the condition it answers (`Train@3`) and recorded before its
 * report goes to the outbox (trigger-state.ts): a step is acted on once, across restarts, with or
 * without a GM. Reports are condition transitions, never coalesced (lc/constants.ts COALESCED_KINDS).
 */
import { FedmeshError } from '../../common/errors.ts';
import type { SednaKind } from '../../common/wire/index.ts';
import type { StoredObject } from '../store/types.ts';
import { reportOfWorkerMessage } from '../worker-api.ts';
import { type DatasetSamples, localSampleReader, type SampleReader } from './samples.ts';
import {
  conditionsOf,
  type JobObject,
  jobKey,
  type ModelRef,
  type NodeFiles,
  nodeFiles,
  outputPaths,
  type StageCondition,
  type UpstreamStatus,
} from './stagejob-io.ts';
import { parseTrigger, type Trigger } from './trigger.ts';
import { openTriggerStore, type SamplesState, type TriggerStore } from './trigger-state.ts';
import type { Manager, ManagerContext } from './types.ts';

/** Sedna's EvalSamplesCapacity: held-out batches kept for evaluation. */
export const EVAL_BATCHES_KEPT = 5;
/** How often the loop looks at every job (ms): bounds a trigger's delay past its checkPeriodSeconds. */
export const STAGE_TICK_MS = 250;

/** Time as the managers see it; injected so tests control it. */
export interface ManagerClock {
  /** Monotonic ms: check periods. */
  now(): number;
  /** Local wall clock: trigger timers, report times. */
  wall(): Date;
  /** Resolves after `ms` or when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** What one job looks like to a flavor's decisions. */
export interface JobView {
  job: JobObject;
  namespace: string;
  conds: StageCondition[];
  /** Train rounds fired so far (the round being evaluated or deployed). */
  rounds: number;
}

/**
 * A step cannot be taken yet (a model not on the node, a worker's output not reported yet): the
 * job waits and the reason is logged once. Thrown by flavors.
 */
export class StageWaitError extends FedmeshError {
  constructor(message: string) {
    super(message, 'ERR_STAGE_WAIT');
    this.name = 'StageWaitError';
  }
}

/** What differs between incremental and lifelong learning on the LC. Methods throw StageWaitError to wait. */
export interface StageFlavor {
  kind: 'IncrementalLearningJob' | 'LifelongLearningJob';
  sednaKind: SednaKind;
  /** Models of the Train Ready input (IL: the initial or last trained model; LL: none). */
  trainModels(v: JobView, ctx: ManagerContext): ModelRef[];
  /** Models (and outputDir) of the Eval Ready input. */
  evalInput(v: JobView, ctx: ManagerContext): { models: ModelRef[]; outputDir?: string };
  /** The report answering Deploy/Waiting. */
  deploy(v: JobView, ctx: ManagerContext, files: NodeFiles, now: Date): UpstreamStatus;
  /** IL hot update at Deploy/Running: writes the model and the config the inference worker polls (no report). */
  hotUpdate?(v: JobView, ctx: ManagerContext, files: NodeFiles, now: Date): void;
  /** A deleted job's node data to remove (IL: its hot update folder). */
  cleanup?(job: JobObject, files: NodeFiles): void;
}

export interface StageJobManagerInit {
  clock?: ManagerClock;
  /** Reads a Dataset object's samples; default: its local index file under ctx.rootfs. */
  readSamples?: SampleReader;
  tickMs?: number;
}

/** A manager whose loop step the tests can drive. */
export interface StageJobManager extends Manager {
  /** One look at every job (what the loop does every tick). */
  tick(): void;
  /** Closes the trigger store (the loop does it when stopped). */
  close(): void;
}

export const systemManagerClock: ManagerClock = {
  now: () => performance.now(),
  wall: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

interface Entry {
  key: string;
  namespace: string;
  name: string;
  job: JobObject;
  trigger?: Trigger;
  nextCheckAt: number;
  state: SamplesState;
  /** Reasons already logged for this job (each said once, not every tick). */
  said: Set<string>;
}

export function createStageJobManager(
  flavor: StageFlavor,
  ctx: ManagerContext,
  init: StageJobManagerInit = {},
): StageJobManager {
  const clock = init.clock ?? systemManagerClock;
  const tickMs = init.tickMs ?? STAGE_TICK_MS;
  const log = ctx.log.child({ component: `lc.${flavor.sednaKind}` });
  const readSamples = init.readSamples ?? localSampleReader(ctx.rootfs);
  const files = nodeFiles(ctx.rootfs);
  const store: TriggerStore = openTriggerStore(ctx.stateDir, `${flavor.sednaKind}-triggers`);
  const jobs = new Map<string, Entry>();
  let wake = new AbortController();
  let closed = false;

  const say = (e: Entry, reason: string, fields: Record<string, unknown> = {}) => {
    if (e.said.has(reason)) return;
    e.said.add(reason);
    log.info({ job: e.key, reason, ...fields }, 'job waiting');
  };

  /** Hands a recorded step's report to the outbox; undoes the record if the outbox refuses it. */
  function fire(e: Entry, step: string, status: UpstreamStatus | null, next: SamplesState): boolean {
    const previous = e.state;
    const reportedAt = clock.wall().toISOString();
    store.record({ job: e.key, step, report: status, reportedAt }, next);
    e.state = next;
    if (status) {
      try {
        ctx.report({ kind: flavor.kind, namespace: e.namespace, name: e.name, status, reportedAt });
      } catch (err) {
        store.unrecord(e.key, step, previous);
        e.state = previous;
        log.warn({ job: e.key, step, err }, 'report refused; step retried');
        return false;
      }
      store.enqueued(e.key, step);
    }
    e.said.clear();
    log.info({ job: e.key, step, status: status?.status ?? 'done', round: next.rounds }, 'stage step');
    return true;
  }

  function refreshSamples(e: Entry): void {
    const dsName = e.job.spec.dataset?.name;
    const ds = typeof dsName === 'string' ? ctx.get('dataset', e.namespace, dsName) : undefined;
    if (!ds) throw new StageWaitError(`Dataset ${String(dsName)} not on this node`);
    const read: DatasetSamples | undefined = readSamples(ds.object);
    if (!read) throw new StageWaitError(`Dataset ${String(dsName)}: index file not readable here`);
    const s = e.state;
    const n = read.samples.length;
    if (n === s.consumed) return;
    // A shorter file was replaced or truncated: count from its new end (Sedna would stall until it outgrew the old one).
    if (n < s.consumed) {
      e.state = { ...s, consumed: n };
    } else {
      const fresh = read.samples.slice(s.consumed);
      const trainProb = Number(e.job.spec.dataset?.trainProb ?? 0);
      const trainNum = Math.floor(Math.min(Math.max(trainProb, 0), 1) * fresh.length);
      e.state = {
        ...s,
        consumed: n,
        train: [...s.train, ...fresh.slice(0, trainNum)],
        evalVersions: [...s.evalVersions, fresh.slice(trainNum)].slice(-EVAL_BATCHES_KEPT),
      };
    }
    store.saveState(e.key, e.state);
  }

  const datasetOf = (e: Entry) => {
    const dsName = e.job.spec.dataset?.name;
    const ds = typeof dsName === 'string' ? ctx.get('dataset', e.namespace, dsName) : undefined;
    return ds?.object as { spec?: { format?: unknown } } | undefined;
  };
  const header = (e: Entry) => {
    const ds = datasetOf(e);
    return ds ? readSamples(ds)?.header : undefined;
  };

  // Sedna names a round's sample file after the dataset's format.
  const dataFile = (e: Entry) => (String(datasetOf(e)?.spec?.format).toLowerCase() === 'csv' ? 'data.csv' : 'data.txt');

  function train(e: Entry, view: JobView, step: string, now: Date): void {
    if (!e.trigger) return;
    const out = outputPaths(e.job);
    if (!out) throw new StageWaitError('outputDir is not a local path (object storage not supported yet)');
    const models = flavor.trainModels(view, ctx);
    const s = e.state;
    // Sedna writes no empty round ("not samples"), whatever the condition says.
    if (s.train.length === 0 || !e.trigger.holds({ num_of_samples: s.train.length }, now)) return;
    const round = s.rounds + 1;
    const dataURL = `${out.root}/data/train/${round}/${dataFile(e)}`;
    files.writeSamples(dataURL, s.train, header(e));
    const input = { ...(models.length ? { models } : {}), dataURL, outputDir: `${out.root}/train/${round}` };
    fire(e, step, { phase: 'train', status: 'ready', input }, { ...s, rounds: round, train: [] });
  }

  function evaluate(e: Entry, view: JobView, step: string): void {
    const out = outputPaths(e.job);
    if (!out) throw new StageWaitError('outputDir is not a local path (object storage not supported yet)');
    const got = flavor.evalInput(view, ctx);
    const round = Math.max(e.state.rounds, 1);
    const dataURL = `${out.root}/data/eval/${round}/${dataFile(e)}`;
    files.writeSamples(dataURL, e.state.evalVersions.flat(), header(e));
    const input = { models: got.models, dataURL, ...(got.outputDir ? { outputDir: got.outputDir } : {}) };
    fire(e, step, { phase: 'eval', status: 'ready', input }, e.state);
  }

  function stepJob(e: Entry, checkDue: boolean): void {
    // Only Train and Eval need the dataset; Deploy and hot update go on without it.
    let noSamples: unknown;
    try {
      refreshSamples(e);
    } catch (err) {
      noSamples = err;
    }
    const conds = conditionsOf(e.job);
    const i = conds.length - 1;
    const latest = conds[i];
    if (!latest) return;
    const view: JobView = { job: e.job, namespace: e.namespace, conds, rounds: e.state.rounds };
    if (latest.type === 'Waiting') {
      const step = `${latest.stage}@${i}`;
      if (store.done(e.key, step)) return;
      if ((latest.stage === 'Train' || latest.stage === 'Eval') && noSamples) throw noSamples;
      if (latest.stage === 'Train') {
        if (checkDue) train(e, view, step, clock.wall());
      } else if (latest.stage === 'Eval') evaluate(e, view, step);
      else if (latest.stage === 'Deploy') fire(e, step, flavor.deploy(view, ctx, files, clock.wall()), e.state);
    } else if (latest.stage === 'Deploy' && latest.type === 'Running' && flavor.hotUpdate) {
      const step = `HotUpdate@${i}`;
      if (store.done(e.key, step)) return;
      flavor.hotUpdate(view, ctx, files, clock.wall());
      fire(e, step, null, e.state);
    }
  }

  function tick(): void {
    const now = clock.now();
    for (const e of jobs.values()) {
      let due = false;
      if (e.trigger && now >= e.nextCheckAt) {
        due = true;
        e.nextCheckAt = now + e.trigger.checkPeriodMs;
      }
      try {
        stepJob(e, due);
      } catch (err) {
        // Said once per reason: a job that cannot step logs when it starts waiting, not every tick.
        if (err instanceof StageWaitError) say(e, err.message);
        else say(e, `step failed: ${(err as Error).message}`, { err });
      }
    }
  }

  return {
    kind: flavor.sednaKind,
    tick,
    close() {
      if (closed) return;
      closed = true;
      store.close();
    },
    async start(signal) {
      // Reports recorded but never handed to the outbox (a crash in between) go now.
      for (const p of store.pending()) {
        const [namespace, , name] = p.job.split('/');
        if (!namespace || !name || !p.report) continue;
        ctx.report({ kind: flavor.kind, namespace, name, status: p.report, reportedAt: p.reportedAt });
        store.enqueued(p.job, p.step);
        log.warn({ job: p.job, step: p.step }, 'recorded report enqueued after restart');
      }
      try {
        while (!signal.aborted) {
          tick();
          wake = new AbortController();
          await clock.sleep(tickMs, AbortSignal.any([signal, wake.signal]));
        }
      } finally {
        this.close();
      }
    },
    insert(obj: StoredObject) {
      const job = obj.object as unknown as JobObject;
      const key = jobKey(flavor.sednaKind, obj.namespace, obj.name);
      const prev = jobs.get(key);
      const e: Entry = prev ?? {
        key,
        namespace: obj.namespace,
        name: obj.name,
        job,
        nextCheckAt: 0,
        state: store.state(key),
        said: new Set(),
      };
      e.job = job;
      const triggerSpec = (job.spec.trainSpec as { trigger?: unknown } | undefined)?.trigger;
      try {
        const t = parseTrigger(triggerSpec);
        if (e.trigger?.checkPeriodMs !== t.checkPeriodMs) e.nextCheckAt = 0;
        e.trigger = t;
      } catch (err) {
        e.trigger = undefined;
        log.warn({ job: key, err }, 'train trigger refused; the job never trains');
      }
      jobs.set(key, e);
      wake.abort();
    },
    delete(namespace, name) {
      const key = jobKey(flavor.sednaKind, namespace, name);
      const e = jobs.get(key);
      jobs.delete(key);
      store.forget(key);
      if (e) flavor.cleanup?.(e.job, files);
    },
    workerMessage(m) {
      const r = reportOfWorkerMessage(m);
      // The host (host.ts) already refused an owner this node does not hold (404).
      if (typeof r === 'string') return { refuse: { status: 400, message: r } };
      return { report: r };
    },
  };
}
