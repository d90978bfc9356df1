import type { TestContext } from 'node:test';

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

/**
 * Runs `fn` after test `t`, in reverse order of registration like Go's defer. node:test runs
 * `t.after` hooks first-in-first-out, which would delete a namespace before stopping the process
 * inside it. Every hook runs even if an earlier one throws; the errors are reported together.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const s: Array<() => unknown> = [];
    stack = s;
    stacks.set(t, s);
    t.after(async () => {
      const errors: unknown[] = [];
      for (let f = s.pop(); f !== undefined; f = s.pop()) {
        try {
          await f();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'test cleanup failed');
    });
  }
  stack.push(fn);
}
