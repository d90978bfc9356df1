/**
 * What a new user gets wrong first: `fedmesh gm` with a Lease namespace that does not exist (the
 * default `sedna` on a fresh cluster). The GM says so — one warning with the API's reason, a
 * failing `lease` readiness check in both readyz modes, a metric — keeps retrying, and leads once
 * the namespace is created.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { useEnvtest } from '../envtest/index.ts';
import { type Replica, startReplica, watchHolder } from './replicas.ts';

const env = useEnvtest();
const RETRY_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(r: Replica, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${r.port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

function logLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The counter's value for `reason`, 0 when the series is absent. */
function leaseErrors(metrics: string, reason: string): number {
  const m = new RegExp(`^fedmesh_gm_lease_errors_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics);
  return Number(m?.[1] ?? 0);
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    assert.ok(performance.now() < deadline, `timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('lease namespace missing: a warning with the reason, a readiness check naming it, a metric; leads once it exists', async (t) => {
  const namespace = `gm-missing-${randomBytes(4).toString('hex')}`;
  const core = env.kubeConfig().makeApiClient(CoreV1Api);
  t.after(() => core.deleteNamespace({ name: namespace }).catch(() => {}));
  const logs = { a: join(env.plane.dir, `${namespace}-a.log`), b: join(env.plane.dir, `${namespace}-b.log`) };
  const replicas = [
    await startReplica(env.plane, { id: 'a', namespace, readyz: 'leader', logFile: logs.a }),
    await startReplica(env.plane, { id: 'b', namespace, readyz: 'replica', logFile: logs.b }),
  ];
  t.after(() => Promise.all(replicas.map((r) => r.proc.stop('SIGKILL'))));

  // Several retry periods pass: the warning is logged once, not once per attempt.
  for (const r of replicas) {
    await until(`${r.id} retried`, 20_000, async () =>
      leaseErrors((await get(r, '/metrics')).body, 'NotFound') >= 4 ? true : undefined,
    );
  }
  for (const r of replicas) {
    const warnings = logLines(logs[r.id as 'a' | 'b']).filter((l) => l.msg === 'lease namespace not found; retrying');
    assert.equal(warnings.length, 1, `${r.id}: one warning, not one per retry`);
    const w = warnings[0] as Record<string, unknown>;
    assert.equal(w.level, 40, 'at warn');
    assert.equal(w.namespace, namespace);
    assert.equal(w.status, 404);
    assert.equal(w.reason, 'NotFound');
    assert.match(String((w.err as { message?: string }).message), new RegExp(`namespaces "${namespace}" not found`));

    const readyz = await get(r, '/readyz?verbose');
    assert.equal(readyz.status, 503, `${r.id} is not ready`);
    assert.match(readyz.body, new RegExp(`^\\[-\\]lease failed: lease namespace "${namespace}" not found`, 'm'));
  }

  // The namespace appears: the next attempt creates the Lease and one replica leads.
  const ac = new AbortController();
  t.after(() => ac.abort());
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const holder = await watchHolder(env.plane, namespace, 'gm', ac.signal);
  const leader = await holder.until((h) => h === 'a' || h === 'b', 20_000);
  const leading = replicas.find((r) => r.id === leader.holder) as Replica;
  await until('the holder reports itself leader', 10_000, async () =>
    /^fedmesh_gm_is_leader 1$/m.test((await get(leading, '/metrics')).body) ? true : undefined,
  );
  for (const r of replicas) {
    const verbose = await until(`${r.id}: lease check passes`, 10_000, async () => {
      const v = await get(r, '/readyz?verbose');
      return /^\[\+\]lease ok$/m.test(v.body) ? v : undefined;
    });
    assert.doesNotMatch(verbose.body, /lease namespace/);
    assert.ok(
      logLines(logs[r.id as 'a' | 'b']).some((l) => l.msg === 'lease requests succeed again'),
      `${r.id} logs the recovery`,
    );
  }
  await sleep(RETRY_MS * 2);
  if (leader.holder === 'a') assert.equal((await get(replicas[0] as Replica, '/readyz')).status, 200);
});
