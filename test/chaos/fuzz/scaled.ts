/**
 * fast-check with every `assert` run at FEDMESH_FUZZ_RUNS inputs (its own numRuns overridden), the
 * inputs tried appended to FEDMESH_FUZZ_COUNT (one number per property) for the run's total.
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

const runs = Number(process.env.FEDMESH_FUZZ_RUNS);
const countFile = process.env.FEDMESH_FUZZ_COUNT;

type AssertFn = typeof fc.assert;

const scaledAssert = ((property: Parameters<AssertFn>[0], params?: Parameters<AssertFn>[1]) => {
  const numRuns = Number.isInteger(runs) && runs > 0 ? runs : params?.numRuns;
  const done = () => {
    if (countFile && numRuns) appendFileSync(countFile, `${numRuns}\n`);
  };
  const r = fc.assert(property as never, { ...params, numRuns } as never) as unknown;
  if (r instanceof Promise) return r.then(done);
  done();
  return r;
}) as AssertFn;

export default { ...fc, assert: scaledAssert };
