/** The LC's events in the opt-in chaos history (common/history.ts): objects its store applied. */
import { historyOn, recordHistory } from '../common/history.ts';
import { type AppliedOp, storeKey } from './store/types.ts';
import { versionOf } from './store/version.ts';

/** Records each change the store made, with the object's resourceVersion; `source` is `gm` or `fallback`. */
export function recordApplied(done: AppliedOp[], source: 'gm' | 'fallback'): void {
  if (!historyOn) return;
  for (const op of done) {
    const key = storeKey(op.kind, op.namespace, op.name);
    const rv = op.op === 'upsert' ? versionOf(op.object) : op.resourceVersion;
    recordHistory('object.applied', { key, op: op.op, rv, source });
  }
}
