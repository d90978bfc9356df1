/**
 * Sedna's trigger (`pkg/localcontroller/trigger`): a job's `trigger{checkPeriodSeconds, timer{start,end},
 * condition{operator, threshold, metric}}` holds when every part given holds:
 *
 * - `condition`: `stats[metric] <operator> threshold`, equality within 1e-6 (so `>` is false and `>=`
 *   true for a value within 1e-6 of the threshold). Operators `>`/`gt`, `>=`/`ge`, `<`/`lt`,
 *   `<=`/`le`, `=`/`==`/`eq`, `!=`/`ne`. A metric `name[i]` takes element i of a list; a metric
 *   missing from `stats` never holds. fedmesh only: a list metric named without an index compares
 *   its first element (Sedna converts it to 0, so such a condition could never fire as written).
 * - `timer`: the local wall-clock `HH:MM` is inside `[start, end]`, both ends included; `start > end`
 *   spans midnight (`23:00`–`01:00`).
 * - `checkPeriodSeconds` (default 60, Sedna's) is how often the LC evaluates the train trigger.
 *
 * Unlike Sedna (which answers false for ever), an unknown operator or a malformed timer is refused
 * when the job arrives (InvalidTriggerError), so the mistake is logged once, where it is made.
 */
import { FedmeshError } from '../../common/errors.ts';

/** Sedna's default `checkPeriodSeconds`. */
export const DEFAULT_CHECK_PERIOD_SECONDS = 60;
/** Sedna compares with this tolerance: values this close count as equal. */
const EPSILON = 1e-6;

export class InvalidTriggerError extends FedmeshError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_TRIGGER');
    this.name = 'InvalidTriggerError';
  }
}

export type Operator = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

const OPERATORS: Record<string, Operator> = {
  '>': 'gt',
  gt: 'gt',
  '>=': 'ge',
  ge: 'ge',
  '<': 'lt',
  lt: 'lt',
  '<=': 'le',
  le: 'le',
  '=': 'eq',
  '==': 'eq',
  eq: 'eq',
  '!=': 'ne',
  ne: 'ne',
};

export interface Trigger {
  /** How often the condition is evaluated (ms). */
  readonly checkPeriodMs: number;
  /** Whether it holds for these stats at `now` (local time judges the timer). */
  holds(stats: Record<string, unknown>, now: Date): boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `value <op> threshold` with Sedna's equality tolerance. */
export function compare(op: Operator, value: number, threshold: number): boolean {
  const equal = Math.abs(value - threshold) < EPSILON;
  switch (op) {
    case 'gt':
      return !equal && value > threshold;
    case 'ge':
      return equal || value >= threshold;
    case 'lt':
      return !equal && value < threshold;
    case 'le':
      return equal || value <= threshold;
    case 'eq':
      return equal;
    case 'ne':
      return !equal;
  }
}

/** The number a metric names in `stats` (`name` or `name[i]`), or undefined when there is none. */
export function metricValue(stats: Record<string, unknown>, metric: string): number | undefined {
  const m = /^\s*([^[\]]+?)\s*(?:\[(\d+)\])?\s*$/.exec(metric);
  if (!m) return undefined;
  let v = stats[m[1] as string];
  if (m[2] !== undefined || Array.isArray(v)) {
    if (!Array.isArray(v)) return undefined;
    v = v[m[2] === undefined ? 0 : Number(m[2])];
  }
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** `H:MM` or `HH:MM` (24 h) as the zero-padded `HH:MM` Sedna compares as text. */
function clockTime(v: unknown, what: string): string {
  const m = typeof v === 'string' ? /^(\d{1,2}):(\d{2})$/.exec(v.trim()) : null;
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new InvalidTriggerError(`timer.${what} must be HH:MM`);
  return `${(m[1] as string).padStart(2, '0')}:${m[2]}`;
}

/** Whether local `now` is in the daily window [start, end] (`HH:MM`), which may span midnight. */
export function inWindow(start: string, end: string, now: Date): boolean {
  const v = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  return start > end ? start <= v || v <= end : start <= v && v <= end;
}

/** Parses a job's trigger spec; throws InvalidTriggerError for what Sedna would never fire on. */
export function parseTrigger(spec: unknown): Trigger {
  if (!isObj(spec)) throw new InvalidTriggerError('trigger must be an object');
  const period = spec.checkPeriodSeconds ?? DEFAULT_CHECK_PERIOD_SECONDS;
  if (typeof period !== 'number' || !Number.isFinite(period) || period <= 0) {
    throw new InvalidTriggerError('checkPeriodSeconds must be a positive number');
  }
  let window: [string, string] | undefined;
  if (spec.timer !== undefined) {
    if (!isObj(spec.timer)) throw new InvalidTriggerError('timer must be an object');
    window = [clockTime(spec.timer.start, 'start'), clockTime(spec.timer.end, 'end')];
  }
  let condition: { op: Operator; metric: string; threshold: number } | undefined;
  if (spec.condition !== undefined) {
    const c = spec.condition;
    if (!isObj(c)) throw new InvalidTriggerError('condition must be an object');
    const op = OPERATORS[String(c.operator).trim()];
    if (!op) throw new InvalidTriggerError(`unknown operator ${JSON.stringify(c.operator)}`);
    const threshold = typeof c.threshold === 'string' ? Number(c.threshold) : c.threshold;
    if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
      throw new InvalidTriggerError('condition.threshold must be a number');
    }
    if (typeof c.metric !== 'string' || c.metric.trim() === '') {
      throw new InvalidTriggerError('condition.metric must be a name');
    }
    condition = { op, metric: c.metric, threshold };
  }
  return {
    checkPeriodMs: period * 1000,
    holds(stats, now) {
      if (window && !inWindow(window[0], window[1], now)) return false;
      if (!condition) return true;
      const v = metricValue(stats, condition.metric);
      return v !== undefined && compare(condition.op, v, condition.threshold);
    },
  };
}
