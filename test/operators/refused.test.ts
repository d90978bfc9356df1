/**
 * Workers the API server refuses for what the cluster lacks. In a namespace without its `default`
 * ServiceAccount (nothing here runs kube-controller-manager's serviceaccount controller) every Pod
 * is refused with 403 "serviceaccount default not found", after the admission plugin waited ~1 s
 * for it to appear. The operators log the API's status and reason, put a condition naming it on
 * the job, post a Warning Event on it, and keep retrying: once the ServiceAccount exists the
 * workers are created.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createKubeRest, isStatus } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { useEnvtest } from '../envtest/index.ts';
import { applyExample, get, list, RESOURCES, runOperators, until } from './harness.ts';

const env = useEnvtest();
const FL = 'surface-defect-detection';
const IL = 'helmet-detection-demo';
const MISSING_SA = /serviceaccount "default" not found/;

interface Event {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
  source?: { component?: string };
}

test('Pods refused (403, no default ServiceAccount): logged with status and reason, a condition and a Warning Event on the job; created once the ServiceAccount exists', async (t) => {
  const admin = await createKubeRest(env.kubeConfig());
  t.after(() => admin.close());
  const ns = `nosa-${randomBytes(4).toString('hex')}`;
  await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  t.after(() => admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {}));
  await assert.rejects(
    admin.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`),
    (err) => isStatus(err, 404),
    'nothing creates the default ServiceAccount in this control plane',
  );

  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  // The fast profile of deploy/gm.yaml: a renew deadline (1.5 s) about as long as the admission wait.
  await runOperators(
    env,
    t,
    ns,
    {},
    {
      log: createLogger({ component: 'test', level: 'info', destination }),
      timing: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
    },
  );
  await applyExample(admin, ns, 'federated-learning-surface-defect.yaml');
  await applyExample(admin, ns, 'incremental-learning-helmet-detection.yaml');

  // The jobs say why they have no workers.
  const fl = await until('FederatedLearningJob condition', 60_000, async () => {
    const j = await get(admin, RESOURCES.FederatedLearningJob, ns, FL);
    return j?.status?.conditions?.some((c: { reason?: string }) => c.reason === 'PodCreationFailed') ? j : undefined;
  });
  const flCond = fl.status.conditions.at(-1);
  assert.equal(flCond.type, 'Pending', 'not final: the job is retried');
  assert.equal(flCond.status, 'True');
  assert.match(flCond.message, /403 Forbidden/);
  assert.match(flCond.message, MISSING_SA);
  assert.equal(fl.status.phase, 'Pending');

  const il = await until('IncrementalLearningJob condition', 60_000, async () => {
    const j = await get(admin, RESOURCES.IncrementalLearningJob, ns, IL);
    return j?.status?.conditions?.some((c: { reason?: string }) => c.reason === 'PodCreationFailed') ? j : undefined;
  });
  const ilCond = il.status.conditions.at(-1);
  assert.equal(ilCond.type, 'Failed');
  assert.equal(ilCond.stage, 'Deploy', 'the inference worker is refused at start');
  assert.match(ilCond.message, MISSING_SA);

  // A Warning Event on each job, as `kubectl describe` shows it.
  const events = await until('Warning Events', 20_000, async () => {
    const items = (await admin.request<{ items: Event[] }>('GET', `/api/v1/namespaces/${ns}/events`)).items.filter(
      (e) => e.reason === 'PodCreationFailed',
    );
    return items.length >= 2 ? items : undefined;
  });
  for (const [kind, name] of [
    ['FederatedLearningJob', FL],
    ['IncrementalLearningJob', IL],
  ]) {
    const e = events.find((x) => x.involvedObject.kind === kind && x.involvedObject.name === name);
    assert.ok(e, `an Event on ${kind} ${name}: ${JSON.stringify(events)}`);
    assert.equal(e.type, 'Warning');
    assert.match(e.message, MISSING_SA);
    assert.equal(e.source?.component, 'fedmesh-gm');
  }

  // The log has the API's status and reason, not the request's cancellation.
  const refusals = lines.filter((l) => l.msg === 'write refused by the api server; retrying');
  assert.ok(refusals.length > 0, 'refusals are logged');
  for (const l of refusals) {
    assert.equal(l.level, 40, 'at warn');
    assert.equal(l.status, 403);
    assert.equal(l.reason, 'Forbidden');
    assert.match(String((l.err as { message: string }).message), MISSING_SA);
  }
  assert.deepEqual(
    lines.filter((l) => JSON.stringify(l).includes('The operation was aborted')),
    [],
    'no write is cut off before the API answers',
  );

  // The ServiceAccount appears: the retries create the workers, and the refusal was told once per job.
  await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'default' } } });
  await until('FL and IL pods', 120_000, async () => {
    const names = (await list(admin, RESOURCES.Pod, ns)).map((p) => p.metadata.name);
    return names.length === 4 && names.includes(`${IL}-inference-1`) ? names : undefined;
  });
  const ilAfter = await until('IncrementalLearningJob back to Train/Waiting', 20_000, async () => {
    const j = await get(admin, RESOURCES.IncrementalLearningJob, ns, IL);
    const last = j?.status?.conditions?.at(-1);
    return last?.stage === 'Train' && last?.type === 'Waiting' ? j : undefined;
  });
  assert.ok(ilAfter.status.startTime);
  const flAfter = await get(admin, RESOURCES.FederatedLearningJob, ns, FL);
  const told = (conds: Array<{ reason?: string }>) => conds.filter((c) => c.reason === 'PodCreationFailed').length;
  assert.equal(told(flAfter?.status.conditions), 1, 'one condition for the FL job');
  assert.equal(told(ilAfter.status.conditions), 1, 'one condition for the IL job');
});
