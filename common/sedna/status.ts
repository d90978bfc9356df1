/**
 * What an LC's status report means for the API, per kind, as Sedna's GM upstream handlers do it
 * (pkg/globalmanager/controllers/<kind>/upstream.go), made idempotent: a report delivered twice (at
 * least once, across replicas) is written once, and a stale report never overwrites a newer one.
 *
 * - Dataset: `{numberOfSamples}` → status.numberOfSamples and updateTime; skipped when the stored
 *   updateTime is newer than the report.
 * - JointInferenceService: `output.ownerInfo` → status.metrics (time keys dropped).
 * - FederatedLearningJob: `output.models[0].metrics` → the aggregation Model's status.metrics;
 *   `output.ownerInfo.currentRound` > 0 → a `Training` condition (not repeated for the same round).
 * - IncrementalLearningJob, LifelongLearningJob: `phase` (train/eval/deploy) and `status`
 *   (ready/completed/failed/waiting) → one appended stage condition carrying `input`/`output` as
 *   data (stage-data.ts); a fedmesh report's id is in the condition message, so a redelivery
 *   appends nothing. LifelongLearningJob: a report with output models also sets
 *   status.knowledgeBase, in the same write.
 * - Model: LCs do not report models; such a report is invalid.
 */
import { FedmeshError } from '../errors.ts';
import type { Kind, ReportId } from '../wire/index.ts';
import { type KubeObject, path, str } from './objects.ts';
import { conditionData, knowledgeBase } from './stage-data.ts';
import type { ObjectLookup } from './targets.ts';

/** One status report as the hub received it, from either dialect. */
export interface Report {
  /** The node the connection authenticated as. */
  node: string;
  kind: Kind;
  namespace: string;
  name: string;
  /** Sedna upstream content (`{phase,status,input,output}` or `{numberOfSamples}`), or fedmesh `report.status`. */
  content: unknown;
  /** fedmesh only: makes redeliveries recognisable. */
  id?: ReportId;
  /** fedmesh only: when the LC observed it (RFC 3339); orders reports of one object. */
  reportedAt?: string;
}

type Status = Record<string, unknown>;

/** A change to the status of one object: returns the new status, or undefined when nothing must be written. */
export interface StatusMutation {
  kind: Kind;
  namespace: string;
  name: string;
  mutate(current: Status): Status | undefined;
}

/** The report's content cannot be applied (wrong shape, unknown phase); retrying will not help. */
export class InvalidReportError extends FedmeshError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_REPORT');
    this.name = 'InvalidReportError';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The status mutations one report calls for (possibly none). `now` is the GM's clock (RFC 3339).
 * Throws InvalidReportError for content the kind cannot take.
 */
export function mutationsFor(report: Report, lookup: ObjectLookup, now: string): StatusMutation[] {
  const { kind, namespace, name, content } = report;
  if (!isObj(content)) throw new InvalidReportError('status content must be a JSON object');
  const at = report.reportedAt ?? now;
  const one = (mutate: StatusMutation['mutate']): StatusMutation[] => [{ kind, namespace, name, mutate }];
  switch (kind) {
    case 'Dataset': {
      const n = content.numberOfSamples;
      if (!Number.isSafeInteger(n) || (n as number) < 0) {
        throw new InvalidReportError('numberOfSamples must be a non-negative integer');
      }
      const updateTime = str(content.updateTime) ?? at;
      return one((cur) => {
        const stored = str(cur.updateTime);
        if (stored !== undefined && Date.parse(stored) > Date.parse(updateTime)) return undefined;
        if (cur.numberOfSamples === n && stored === updateTime) return undefined;
        return { ...cur, numberOfSamples: n, updateTime };
      });
    }
    case 'JointInferenceService': {
      const info = path(content, 'output', 'ownerInfo');
      if (!isObj(info)) return [];
      const metrics = toMetrics(info, ['startTime', 'updateTime']);
      return one((cur) => (sameJson(cur.metrics, metrics) ? undefined : { ...cur, metrics }));
    }
    case 'FederatedLearningJob':
      return federated(report, content, lookup, now);
    case 'IncrementalLearningJob':
    case 'LifelongLearningJob':
      return [stageCondition(report, content, now)];
    case 'Model':
      throw new InvalidReportError('LCs do not report Model status');
  }
}

function federated(report: Report, content: Record<string, unknown>, lookup: ObjectLookup, now: string) {
  const { namespace, name } = report;
  const out: StatusMutation[] = [];
  const models = path(content, 'output', 'models');
  const first = Array.isArray(models) ? models[0] : undefined;
  const modelMetrics = path(first, 'metrics');
  const job = lookup.get('FederatedLearningJob', namespace, name);
  const modelName = job && str(path(job, 'spec', 'aggregationWorker', 'model', 'name'));
  if (isObj(modelMetrics) && modelName !== undefined) {
    const metrics = toMetrics(modelMetrics, []);
    if (metrics.length) {
      out.push({
        kind: 'Model',
        namespace,
        name: modelName,
        mutate: (cur) => (sameJson(cur.metrics, metrics) ? undefined : { ...cur, metrics, updateTime: now }),
      });
    }
  }
  const round = path(content, 'output', 'ownerInfo', 'currentRound');
  if (typeof round === 'number' && round > 0) {
    const updated = str(path(content, 'output', 'ownerInfo', 'updateTime')) ?? '';
    const message = `Round ${round} reaches at ${updated}`;
    out.push({
      kind: 'FederatedLearningJob',
      namespace,
      name,
      mutate(cur) {
        const conds = Array.isArray(cur.conditions) ? (cur.conditions as Status[]) : [];
        const last = conds.at(-1);
        if (last?.type === 'Training' && last.message === message) return undefined;
        const cond = {
          type: 'Training',
          status: 'True',
          lastProbeTime: now,
          lastHeartbeatTime: now,
          reason: 'DoTraining',
          message,
        };
        return { ...cur, conditions: [...conds, cond] };
      },
    });
  }
  return out;
}

const STAGES: Record<string, string> = { train: 'Train', eval: 'Eval', deploy: 'Deploy' };
const TYPES: Record<string, string> = { ready: 'Ready', completed: 'Completed', failed: 'Failed', waiting: 'Waiting' };

function stageCondition(report: Report, content: Record<string, unknown>, now: string): StatusMutation {
  const stage = STAGES[String(content.phase).toLowerCase()];
  const type = TYPES[String(content.status).toLowerCase()];
  if (stage === undefined) throw new InvalidReportError('phase must be train, eval or deploy');
  if (type === undefined) throw new InvalidReportError('status must be ready, completed, failed or waiting');
  const cd = conditionData(content);
  const data = JSON.stringify(cd);
  // Sedna's GM writes the knowledge base of a LifelongLearningJob from the output models of each report.
  const kb = report.kind === 'LifelongLearningJob' ? knowledgeBase(cd) : undefined;
  const message =
    report.id === undefined
      ? 'reported by lc'
      : `reported by lc ${report.node}, report ${report.id.instance}/${report.id.seq}`;
  return {
    kind: report.kind,
    namespace: report.namespace,
    name: report.name,
    mutate(cur) {
      const conds = Array.isArray(cur.conditions) ? (cur.conditions as Status[]) : [];
      // A redelivered fedmesh report (same id) was already appended: at-least-once becomes exactly-once.
      if (report.id !== undefined && conds.some((c) => c.message === message)) return undefined;
      const cond = {
        type,
        status: 'True',
        lastHeartbeatTime: now,
        lastTransitionTime: now,
        message,
        stage,
        data,
      };
      return { ...cur, ...(kb && { knowledgeBase: kb }), conditions: [...conds, cond] };
    },
  };
}

/** Sedna's ConvertMapToMetrics: strings as they are, anything else as JSON; keys sorted so writes are stable. */
function toMetrics(info: Record<string, unknown>, skip: string[]): Array<{ key: string; value: string }> {
  return Object.keys(info)
    .filter((k) => !skip.includes(k))
    .sort()
    .map((key) => {
      const v = info[key];
      return { key, value: typeof v === 'string' ? v : JSON.stringify(v ?? null) };
    });
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The object as the status write sends it: the object read, with the new status. */
export function withStatus(obj: KubeObject, status: Status): KubeObject {
  return { ...obj, status };
}
