import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../common/async.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createLeaderElector, createLeaseLock } from '../../gm/election/index.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest();
const ROUNDS = 20;

test(`two electors racing for a free lease: exactly one wins, ${ROUNDS} rounds`, async (t) => {
  const namespace = await env.namespace(t);
  const restA = await createKubeRest(env.kubeConfig());
  const restB = await createKubeRest(env.kubeConfig());
  t.after(() => {
    restA.close();
    restB.close();
  });
  const log = createLogger({ component: 'test', level: 'silent' });
  for (let round = 0; round < ROUNDS; round++) {
    const ac = new AbortController();
    const started: string[] = [];
    const make = (id: string, rest: typeof restA) =>
      createLeaderElector(
        { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
        {
          lock: createLeaseLock({ namespace, name: `race-${round}`, identity: id }, rest),
          log,
          callbacks: {
            onStartedLeading: () => {
              started.push(id);
            },
            onStoppedLeading: () => {},
          },
        },
      );
    const a = make('a', restA);
    const b = make('b', restB);
    // Both start in the same tick: both see no Lease, both try to create it.
    const runs = [a.run(ac.signal), b.run(ac.signal)];
    let both = 0;
    const deadline = performance.now() + 5000;
    while (started.length === 0 && performance.now() < deadline) await sleep(10);
    for (let i = 0; i < 20; i++) {
      if (a.guard.valid() && b.guard.valid()) both++;
      await sleep(25);
    }
    assert.equal(started.length, 1, `round ${round}: exactly one started leading (${started.join(',')})`);
    assert.equal(both, 0, `round ${round}: never both past the guard`);
    assert.equal(a.isLeader() !== b.isLeader(), true);
    ac.abort();
    await Promise.all(runs);
  }
});
